/**
 * Knative's autoscaling annotations (`autoscaling.knative.dev/…`, knative/serving
 * pkg/apis/autoscaling/register.go) accepted inside `function.json`'s `scaling` block, so a
 * revision template's annotations can be pasted unchanged. Annotation values are strings in
 * Kubernetes ("10", "60s", "kpa.autoscaling.knative.dev"); they are converted to the manifest's
 * own field and unit here, before the schema checks ranges. Pure: no I/O.
 */

export const KNATIVE_PREFIX = 'autoscaling.knative.dev/';

type Conv = 'number' | 'int' | 'seconds' | 'percent-fraction' | 'percent-ratio' | 'class' | 'metric';

/** Annotation (after the prefix) → [manifest scaling field, conversion]. Old camelCase spellings too. */
const ALIASES: Record<string, [string, Conv]> = {
  class: ['policy', 'class'],
  metric: ['metric', 'metric'],
  target: ['target', 'number'],
  'target-utilization-percentage': ['targetUtilization', 'percent-fraction'],
  targetUtilizationPercentage: ['targetUtilization', 'percent-fraction'],
  window: ['stableWindowS', 'seconds'],
  'panic-window-percentage': ['panicWindowPct', 'number'],
  panicWindowPercentage: ['panicWindowPct', 'number'],
  'panic-threshold-percentage': ['panicThreshold', 'percent-ratio'],
  panicThresholdPercentage: ['panicThreshold', 'percent-ratio'],
  'min-scale': ['minScale', 'int'],
  minScale: ['minScale', 'int'],
  'max-scale': ['maxScale', 'int'],
  maxScale: ['maxScale', 'int'],
  'initial-scale': ['initialScale', 'int'],
  initialScale: ['initialScale', 'int'],
  'scale-down-delay': ['scaleDownDelayS', 'seconds'],
  'activation-scale': ['activationScale', 'int'],
  'scale-to-zero-pod-retention-period': ['scaleToZeroRetentionS', 'seconds'],
  // Config-map keys (config-autoscaler) that Knative has no annotation for; accepted under the
  // same prefix so one vocabulary covers every KPA setting.
  'max-scale-up-rate': ['maxScaleUpRate', 'number'],
  'max-scale-down-rate': ['maxScaleDownRate', 'number'],
  'scale-to-zero-grace-period': ['scaleToZeroGraceS', 'seconds'],
};

import { GoDurationError, parseGoDurationSeconds as goDuration } from '../core/go-duration.js';

export class AnnotationError extends Error {}

/** Go durations as Knative parses them ("60s", "1m30s"); a bare number is seconds. */
export function parseGoDurationSeconds(text: string): number {
  try {
    return goDuration(text, true);
  } catch (e) {
    if (e instanceof GoDurationError) throw new AnnotationError(e.message);
    throw e;
  }
}

function convert(key: string, raw: unknown, conv: Conv): unknown {
  const text = typeof raw === 'number' ? String(raw) : raw;
  if (typeof text !== 'string') throw new AnnotationError(`${KNATIVE_PREFIX}${key}: expected a string value (annotations are strings), got ${JSON.stringify(raw)}`);
  const num = (): number => {
    const n = Number(text.trim());
    if (text.trim() === '' || !Number.isFinite(n)) throw new AnnotationError(`${KNATIVE_PREFIX}${key}: "${text}" is not a number`);
    return n;
  };
  try {
    switch (conv) {
      case 'number':
        return num();
      case 'int': {
        const n = num();
        if (!Number.isInteger(n)) throw new AnnotationError(`${KNATIVE_PREFIX}${key}: "${text}" is not a whole number`);
        return n;
      }
      case 'seconds':
        return parseGoDurationSeconds(text);
      case 'percent-fraction':
        return num() / 100;
      case 'percent-ratio':
        return num() / 100;
      case 'metric':
        if (text !== 'concurrency' && text !== 'rps') throw new AnnotationError(`${KNATIVE_PREFIX}${key}: "${text}" is not a KPA metric (concurrency or rps)`);
        return text;
      case 'class':
        if (text === 'kpa.autoscaling.knative.dev' || text === 'kpa') return 'kpa';
        throw new AnnotationError(`${KNATIVE_PREFIX}${key}: only "kpa.autoscaling.knative.dev" is supported (Hivelab has no HPA), got "${text}"`);
    }
  } catch (e) {
    if (e instanceof AnnotationError && !e.message.startsWith(KNATIVE_PREFIX)) throw new AnnotationError(`${KNATIVE_PREFIX}${key}: ${e.message}`);
    throw e;
  }
}

/**
 * Rewrites `autoscaling.knative.dev/…` keys of a scaling block into Hivelab's fields. Throws on an
 * unknown annotation (a typo must not be silently ignored), a bad value, or a setting given both
 * ways. Anything that is not an object is returned as is for the schema to refuse.
 */
export function expandKnativeAnnotations(scaling: unknown): unknown {
  if (scaling === null || typeof scaling !== 'object' || Array.isArray(scaling)) return scaling;
  const out: Record<string, unknown> = {};
  const from: Record<string, string> = {};
  for (const [k, v] of Object.entries(scaling)) {
    if (!k.startsWith(KNATIVE_PREFIX)) {
      if (k in out) throw new AnnotationError(`"${k}" is also set by ${from[k]}`);
      out[k] = v;
      from[k] = `"${k}"`;
      continue;
    }
    const name = k.slice(KNATIVE_PREFIX.length);
    const alias = ALIASES[name];
    if (!alias) throw new AnnotationError(`unknown Knative annotation "${k}" (known: ${Object.keys(ALIASES).filter((a) => /^[a-z-]+$/.test(a)).join(', ')})`);
    const [field, conv] = alias;
    if (field in out) throw new AnnotationError(`"${k}" sets "${field}", which ${from[field]} already sets`);
    out[field] = convert(name, v, conv);
    from[field] = `"${k}"`;
  }
  return out;
}
