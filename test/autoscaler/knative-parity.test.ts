import { describe, expect, it } from 'vitest';
import { KpaPolicy } from '../../src/autoscaler/kpa.js';
import { resolveScalingConfig } from '../../src/autoscaler/config.js';
import { parseManifest } from '../../src/manifest/validate.js';
import { expandKnativeAnnotations, parseGoDurationSeconds } from '../../src/autoscaler/knative-annotations.js';
import type { ScalingSpec } from '../../src/manifest/schema.js';

/**
 * Knative Serving's documented autoscaling behaviour (knative.dev/docs/serving/autoscaling/*,
 * config-autoscaler.yaml, pkg/autoscaler/scaling/autoscaler.go), one case per rule, driven by a fake
 * clock: times are plain milliseconds handed to the policy.
 */
const S = 1000;
const kpa = (scaling: Partial<ScalingSpec>, concurrency = 1): KpaPolicy => new KpaPolicy(resolveScalingConfig(scaling, concurrency));
function feed(p: KpaPolicy, fromS: number, toS: number, concurrency: number, requests = 0): void {
  for (let s = fromS + 1; s <= toS; s++) p.record({ at: s * S, concurrency, peak: Math.ceil(concurrency), requests });
}

describe('Knative KPA, case by case', () => {
  it('initial-scale: held while not reached, and still held by the reconcile that first reaches it', () => {
    const p = kpa({ initialScale: 2 });
    expect(p.decide(0, { ready: 0, starting: 0 })).toMatchObject({ desired: 2, reason: 'initial-scale' });
    expect(p.decide(2 * S, { ready: 2, starting: 0 }).desired).toBe(2);
    // next reconcile: released; with no traffic the want is 0 → held at 1 (rate clamp floor(2/2))
    expect(p.decide(4 * S, { ready: 2, starting: 0 }).desired).toBe(1);
  });

  it('initial-scale 0: nothing starts before a request', () => {
    expect(kpa({ initialScale: 0 }).decide(0, { ready: 0, starting: 0 }).desired).toBe(0);
  });

  it('scale-down-delay: each decision is the highest want of the last delay (scale-ups pass at once)', () => {
    const delayed = kpa({ initialScale: 0, scaleDownDelayS: 30 });
    const plain = kpa({ initialScale: 0 });
    const wants: [number, number][] = [];
    let sawHold = false;
    for (let t = 5; t <= 240; t += 5) {
      // 7 in flight for a minute, then 0.7: the stable average falls slowly over the next minute
      const c = t <= 60 ? 7 : 0.7;
      feed(delayed, t - 5, t, c);
      feed(plain, t - 5, t, c);
      const want = plain.decide(t * S, { ready: 10, starting: 0 }).desired;
      wants.push([t, want]);
      const d = delayed.decide(t * S, { ready: 10, starting: 0 });
      const expected = Math.max(...wants.filter(([at]) => at > t - 30).map(([, w]) => w));
      expect(d.desired, `t = ${t} s`).toBe(expected);
      if (d.desired > want) {
        sawHold = true;
        expect(d.reason).toBe('scale-down-delay');
      }
    }
    expect(sawHold).toBe(true);
  });

  it('scale-down-delay expires: once the delay has passed since the last higher want, the lower one applies', () => {
    const p = kpa({ initialScale: 0, scaleDownDelayS: 10 });
    feed(p, 0, 60, 2.1);
    expect(p.decide(60 * S, { ready: 3, starting: 0 }).desired).toBe(3);
    feed(p, 60, 200, 0.7);
    // at 200 s the stable window holds only 0.7 → 1 (clamp floor(3/2) = 1); the last 3-want was at 60 s
    expect(p.decide(200 * S, { ready: 3, starting: 0 }).desired).toBe(1);
    // a scale-up is never delayed
    feed(p, 200, 260, 7);
    expect(p.decide(260 * S, { ready: 1, starting: 0 }).desired).toBe(10);
  });

  it('activation-scale: a non-zero want is raised to it; zero stays zero', () => {
    const p = kpa({ initialScale: 0, activationScale: 3, scaleToZeroGraceS: 0, stableWindowS: 6 });
    p.onArrival(10 * S);
    p.record({ at: 10 * S, concurrency: 0.5, peak: 1, requests: 1 });
    expect(p.decide(10 * S, { ready: 0, starting: 0 }).desired).toBe(3);
    // long idle (and one ready, so the down-rate clamp allows 0): zero
    expect(p.decide(100 * S, { ready: 1, starting: 0 }).desired).toBe(0);
  });

  it('activation-scale 1 (the default) changes nothing', () => {
    const p = kpa({ initialScale: 0 });
    p.onArrival(10 * S);
    p.record({ at: 10 * S, concurrency: 0.5, peak: 1, requests: 1 });
    expect(p.decide(10 * S, { ready: 0, starting: 0 }).desired).toBe(1);
  });

  it('metric rps: desired = ceil(requests per second / (target · 0.7)), 200 · 0.7 = 140 by default', () => {
    const p = kpa({ metric: 'rps', initialScale: 0 }, 10);
    feed(p, 0, 60, 1, 300); // 300 req/s, concurrency irrelevant
    expect(p.decide(60 * S, { ready: 3, starting: 0 })).toMatchObject({ desired: 3, observedStable: 300 });
    const q = kpa({ metric: 'rps', target: 50, initialScale: 0 }, 1);
    feed(q, 0, 60, 20, 100); // 100 / 35 → 3; the concurrency limit of 1 does not cap an rps target
    expect(q.decide(60 * S, { ready: 3, starting: 0 }).desired).toBe(3);
  });

  it('max-scale-up-rate and max-scale-down-rate bound one decision relative to the ready count', () => {
    const up = kpa({ initialScale: 0, maxScaleUpRate: 2 });
    feed(up, 0, 60, 70); // wants 100
    expect(up.decide(60 * S, { ready: 4, starting: 0 }).desired).toBe(8);
    const down = kpa({ initialScale: 0, maxScaleDownRate: 4 });
    feed(down, 0, 60, 0.7); // wants 1
    expect(down.decide(60 * S, { ready: 20, starting: 0 }).desired).toBe(5);
  });

  it('scale-to-zero-grace-period and scale-to-zero-pod-retention-period: the longer one holds the last instance', () => {
    const grace = kpa({ initialScale: 0, stableWindowS: 6, scaleToZeroGraceS: 10 });
    grace.onArrival(0);
    expect(grace.decide(15 * S, { ready: 1, starting: 0 }).desired).toBe(1);
    expect(grace.decide(16 * S, { ready: 1, starting: 0 }).desired).toBe(0);
    const retain = kpa({ initialScale: 0, stableWindowS: 6, scaleToZeroGraceS: 10, scaleToZeroRetentionS: 40 });
    retain.onArrival(0);
    expect(retain.decide(45 * S, { ready: 1, starting: 0 }).desired).toBe(1);
    expect(retain.decide(46 * S, { ready: 1, starting: 0 }).desired).toBe(0);
  });
});

describe('Knative annotation names in function.json', () => {
  it('accepts autoscaling.knative.dev/… keys with string values and converts units', () => {
    const m = parseManifest({
      name: 'f',
      runtime: 'node',
      handler: 'index.handler',
      scaling: {
        'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev',
        'autoscaling.knative.dev/metric': 'rps',
        'autoscaling.knative.dev/target': '150',
        'autoscaling.knative.dev/target-utilization-percentage': '80',
        'autoscaling.knative.dev/window': '2m',
        'autoscaling.knative.dev/panic-threshold-percentage': '300',
        'autoscaling.knative.dev/min-scale': '1',
        'autoscaling.knative.dev/max-scale': '9',
        'autoscaling.knative.dev/initial-scale': '2',
        'autoscaling.knative.dev/scale-down-delay': '15m',
        'autoscaling.knative.dev/activation-scale': '3',
        'autoscaling.knative.dev/scale-to-zero-pod-retention-period': '1m5s',
        'autoscaling.knative.dev/max-scale-up-rate': '10',
      },
    });
    expect(m.scaling).toEqual({
      policy: 'kpa',
      metric: 'rps',
      target: 150,
      targetUtilization: 0.8,
      stableWindowS: 120,
      panicThreshold: 3,
      minScale: 1,
      maxScale: 9,
      initialScale: 2,
      scaleDownDelayS: 900,
      activationScale: 3,
      scaleToZeroRetentionS: 65,
      maxScaleUpRate: 10,
    });
    const cfg = resolveScalingConfig(m.scaling, 1);
    expect(cfg).toMatchObject({ metric: 'rps', scaleDownDelayMs: 900_000, activationScale: 3, stableWindowMs: 120_000, maxScaleUpRate: 10 });
  });

  it('refuses an unknown annotation, a bad value, the HPA class, Knative range violations and a setting given twice', () => {
    const bad = (scaling: Record<string, unknown>) => () => parseManifest({ name: 'f', runtime: 'node', handler: 'index.handler', scaling });
    expect(bad({ 'autoscaling.knative.dev/min-scael': '1' })).toThrow(/unknown Knative annotation "autoscaling.knative.dev\/min-scael"/);
    expect(bad({ 'autoscaling.knative.dev/window': 'soon' })).toThrow(/window.*not a duration/);
    expect(bad({ 'autoscaling.knative.dev/class': 'hpa.autoscaling.knative.dev' })).toThrow(/no HPA/);
    expect(bad({ 'autoscaling.knative.dev/window': '3s' })).toThrow(/stableWindowS/);
    expect(bad({ 'autoscaling.knative.dev/min-scale': '2', minScale: 3 })).toThrow(/already sets|also set/);
    expect(bad({ 'autoscaling.knative.dev/scale-down-delay': '2h' })).toThrow(/scaleDownDelayS/);
  });

  it('Go durations as Knative parses them', () => {
    expect(parseGoDurationSeconds('60s')).toBe(60);
    expect(parseGoDurationSeconds('1h2m3s')).toBe(3723);
    expect(parseGoDurationSeconds('500ms')).toBe(0.5);
    expect(parseGoDurationSeconds('45')).toBe(45);
    expect(() => parseGoDurationSeconds('1x')).toThrow();
    expect(expandKnativeAnnotations(null)).toBe(null);
  });
});
