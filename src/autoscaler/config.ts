import type { ScalingSpec } from './spec.js';

/**
 * A function's scaling parameters resolved to numbers, with Knative's defaults where `function.json`
 * leaves a field out. Every policy receives the whole set and uses the fields it understands.
 */
export interface ScalingConfig {
  policy: string;
  /** KPA: the metric `target` counts: in-flight requests per instance, or requests per second. */
  metric: 'concurrency' | 'rps';
  /**
   * Requests one instance serves at once (the manifest's `concurrency`); 0 = unlimited, in which
   * case the KPA target falls back to 100 like Knative's containerConcurrency=0.
   */
  concurrency: number;
  /** Per-instance concurrency target before utilisation (manifest `scaling.target`), if set. */
  target?: number;
  targetUtilization: number;
  stableWindowMs: number;
  /** Panic window as a percentage of the stable window. */
  panicWindowPct: number;
  /** desiredPanic / ready at or above this starts panic mode (2 = 200 %). */
  panicThreshold: number;
  maxScaleUpRate: number;
  maxScaleDownRate: number;
  minScale: number;
  /** 0 = unbounded. */
  maxScale: number;
  initialScale: number;
  /** KPA: a lower count takes effect only once no higher one was wanted for this long (0 = off). */
  scaleDownDelayMs: number;
  /** KPA: any non-zero want is raised to at least this (Knative applies it only when > 1). */
  activationScale: number;
  scaleToZeroGraceMs: number;
  /** KPA: the last instance is kept at least this long after the function went idle (Knative's pod retention). */
  scaleToZeroRetentionMs: number;
  keepAliveMs: number;
  /** How often the live control plane decides (the simulator also aligns busy periods to it). */
  tickMs: number;
}

export const SCALING_DEFAULTS = {
  policy: 'kpa',
  metric: 'concurrency',
  /** Knative's requests-per-second-target-default. */
  rpsTarget: 200,
  targetUtilization: 0.7,
  stableWindowMs: 60_000,
  panicWindowPct: 10,
  panicThreshold: 2,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
  minScale: 0,
  maxScale: 0,
  initialScale: 1,
  scaleDownDelayMs: 0,
  activationScale: 1,
  scaleToZeroGraceMs: 30_000,
  scaleToZeroRetentionMs: 0,
  keepAliveMs: 600_000,
  tickMs: 2_000,
} as const;

/** Resolves the manifest's `scaling` block (seconds) and `concurrency` into a ScalingConfig (ms). */
export function resolveScalingConfig(spec: Partial<ScalingSpec> | undefined, concurrency: number): ScalingConfig {
  const s = spec ?? {};
  const cfg: ScalingConfig = {
    policy: s.policy ?? SCALING_DEFAULTS.policy,
    metric: s.metric ?? SCALING_DEFAULTS.metric,
    concurrency,
    targetUtilization: s.targetUtilization ?? SCALING_DEFAULTS.targetUtilization,
    stableWindowMs: s.stableWindowS !== undefined ? s.stableWindowS * 1000 : SCALING_DEFAULTS.stableWindowMs,
    panicWindowPct: s.panicWindowPct ?? SCALING_DEFAULTS.panicWindowPct,
    panicThreshold: s.panicThreshold ?? SCALING_DEFAULTS.panicThreshold,
    maxScaleUpRate: s.maxScaleUpRate ?? SCALING_DEFAULTS.maxScaleUpRate,
    maxScaleDownRate: s.maxScaleDownRate ?? SCALING_DEFAULTS.maxScaleDownRate,
    minScale: s.minScale ?? SCALING_DEFAULTS.minScale,
    maxScale: s.maxScale ?? SCALING_DEFAULTS.maxScale,
    initialScale: s.initialScale ?? SCALING_DEFAULTS.initialScale,
    scaleDownDelayMs: s.scaleDownDelayS !== undefined ? s.scaleDownDelayS * 1000 : SCALING_DEFAULTS.scaleDownDelayMs,
    activationScale: s.activationScale ?? SCALING_DEFAULTS.activationScale,
    scaleToZeroGraceMs: s.scaleToZeroGraceS !== undefined ? s.scaleToZeroGraceS * 1000 : SCALING_DEFAULTS.scaleToZeroGraceMs,
    scaleToZeroRetentionMs: s.scaleToZeroRetentionS !== undefined ? s.scaleToZeroRetentionS * 1000 : SCALING_DEFAULTS.scaleToZeroRetentionMs,
    keepAliveMs: s.keepAliveS !== undefined ? s.keepAliveS * 1000 : SCALING_DEFAULTS.keepAliveMs,
    tickMs: SCALING_DEFAULTS.tickMs,
  };
  if (s.target !== undefined) cfg.target = s.target;
  if (cfg.maxScale > 0 && cfg.minScale > cfg.maxScale) {
    throw new Error(`scaling: minScale ${cfg.minScale} exceeds maxScale ${cfg.maxScale}`);
  }
  if (cfg.maxScale > 0 && cfg.activationScale > cfg.maxScale) {
    throw new Error(`scaling: activationScale ${cfg.activationScale} exceeds maxScale ${cfg.maxScale}`);
  }
  return cfg;
}

/** Clamps a desired count to [minScale, maxScale] (maxScale 0 = unbounded). */
export function applyScaleBounds(desired: number, cfg: Pick<ScalingConfig, 'minScale' | 'maxScale'>): number {
  let d = Math.max(desired, cfg.minScale);
  if (cfg.maxScale > 0) d = Math.min(d, cfg.maxScale);
  return d;
}

/** Instances needed for `inFlight` requests when each serves `concurrency` at once (0 = unlimited). */
export function instancesFor(inFlight: number, concurrency: number): number {
  if (inFlight <= 0) return 0;
  if (concurrency <= 0) return 1;
  return Math.ceil(inFlight / concurrency - 1e-9);
}
