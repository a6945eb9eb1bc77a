import { describe, expect, it } from 'vitest';
import { KpaPolicy } from '../../src/autoscaler/kpa.js';
import { resolveScalingConfig, type ScalingConfig } from '../../src/autoscaler/config.js';
import {
  desiredFromAverage,
  isOverPanicThreshold,
  rateBounds,
  targetPerInstance,
} from '../../src/autoscaler/kpa-math.js';

const S = 1000;

function cfg(over: Partial<ScalingConfig> = {}): ScalingConfig {
  return { ...resolveScalingConfig(undefined, 1), ...over };
}

/** Reports `value` for each whole second ending in (fromS, toS]. */
function feed(p: KpaPolicy, fromS: number, toS: number, value: number): void {
  for (let s = fromS + 1; s <= toS; s++) p.record({ at: s * S, concurrency: value, peak: Math.ceil(value), requests: 0 });
}

describe('KPA math', () => {
  it('target = max(0.01, cc · utilisation), 100 when unlimited, explicit target capped by the hard limit', () => {
    expect(targetPerInstance(1, 0.7)).toBeCloseTo(0.7, 12);
    expect(targetPerInstance(0, 0.7)).toBeCloseTo(70, 12);
    expect(targetPerInstance(10, 0.5, 4)).toBe(2);
    expect(targetPerInstance(3, 0.5, 8)).toBe(1.5);
    expect(targetPerInstance(1, 0.001)).toBe(0.01);
  });
  it('ceil(avg / target) without binary rounding surprises', () => {
    expect(desiredFromAverage(2.1, 0.7)).toBe(3);
    expect(desiredFromAverage(2.11, 0.7)).toBe(4);
    expect(desiredFromAverage(0, 0.7)).toBe(0);
    expect(desiredFromAverage(0.001, 0.7)).toBe(1);
  });
  it('rate bounds: [floor(ready/2), ceil(ready·1000)], ready counted as at least 1', () => {
    expect(rateBounds(10, 1000, 2)).toEqual([5, 10000]);
    expect(rateBounds(0, 1000, 2)).toEqual([0, 1000]);
    expect(rateBounds(3, 1.5, 2)).toEqual([1, 5]);
  });
  it('panic threshold is inclusive', () => {
    expect(isOverPanicThreshold(4, 2, 2)).toBe(true);
    expect(isOverPanicThreshold(3, 2, 2)).toBe(false);
    expect(isOverPanicThreshold(2, 0, 2)).toBe(true);
  });
});

describe('KPA policy', () => {
  it('stable decision: 60 s at 2.1 concurrent with target 0.7 → 3 instances, no panic', () => {
    const p = new KpaPolicy(cfg());
    feed(p, 0, 60, 2.1);
    const d = p.decide(60 * S, { ready: 3, starting: 0 });
    expect(d.observedStable).toBeCloseTo(2.1, 9);
    expect(d.desired).toBe(3);
    expect(d.panic).toBe(false);
    expect(d.reason).toBe('stable');
  });

  it('averages over the seconds since the first sample until a whole window exists', () => {
    const p = new KpaPolicy(cfg());
    feed(p, 0, 3, 1.4); // 3 buckets, not 60
    const d = p.decide(3 * S, { ready: 2, starting: 0 });
    expect(d.observedStable).toBeCloseTo(1.4, 9);
    expect(d.desired).toBe(2);
  });

  it('missing seconds count as zero inside a full window', () => {
    const p = new KpaPolicy(cfg());
    feed(p, 0, 1, 0.7); // key 1
    feed(p, 100, 130, 0.7); // keys 101..130
    // window at 130 s covers keys 71..130: 30 buckets of 0.7 → 21 / 60 = 0.35
    expect(p.decide(130 * S, { ready: 1, starting: 0 }).observedStable).toBeCloseTo(0.35, 9);
  });

  it('rate clamps bound both directions', () => {
    const up = new KpaPolicy(cfg({ maxScaleUpRate: 2 }));
    feed(up, 0, 60, 14); // wants 20
    expect(up.decide(60 * S, { ready: 2, starting: 0 }).desired).toBe(4);
    const down = new KpaPolicy(cfg({ initialScale: 0 }));
    feed(down, 0, 60, 0.7); // wants 1
    expect(down.decide(60 * S, { ready: 10, starting: 0 }).desired).toBe(5);
  });

  it('enters panic, never scales down while panicking, exits a stable window after the last overload', () => {
    const p = new KpaPolicy(cfg({ initialScale: 0 }));
    feed(p, 0, 60, 0.7);
    expect(p.decide(60 * S, { ready: 1, starting: 0 })).toMatchObject({ desired: 1, panic: false });
    feed(p, 60, 66, 7); // panic window (keys 61..66) averages 7 → 10 instances; 10 / 1 ≥ 2
    const enter = p.decide(66 * S, { ready: 1, starting: 0 });
    // stable: (54·0.7 + 6·7) / 60 = 1.33 → 2; panic: 10 → max = 10
    expect(enter).toMatchObject({ desired: 10, panic: true, reason: 'panic' });
    expect(enter.observedStable).toBeCloseTo(1.33, 9);

    feed(p, 66, 68, 0.7);
    // panic window keys 63..68: (4·7 + 2·0.7)/6 = 4.9 → 7 < 2·10: not over, but panic holds at 10
    const hold = p.decide(68 * S, { ready: 10, starting: 0 });
    expect(hold.observedPanic).toBeCloseTo(4.9, 9);
    expect(hold).toMatchObject({ desired: 10, panic: true });

    feed(p, 68, 128, 0.7);
    // last overload at 66 s: still panicking at 126 s (not yet past 66 + 60)
    expect(p.decide(126 * S, { ready: 10, starting: 0 })).toMatchObject({ desired: 10, panic: true });
    // at 128 s: out of panic; stable wants 1, rate clamp floor(10/2) = 5
    expect(p.decide(128 * S, { ready: 10, starting: 0 })).toMatchObject({ desired: 5, panic: false, reason: 'stable' });
  });

  it('a second overload during panic raises the panic maximum', () => {
    const p = new KpaPolicy(cfg({ initialScale: 0 }));
    feed(p, 0, 6, 7); // avg 7 over 6 s → 10
    expect(p.decide(6 * S, { ready: 1, starting: 0 })).toMatchObject({ desired: 10, panic: true });
    feed(p, 6, 12, 28); // panic window 28 → 40; 40/10 ≥ 2
    expect(p.decide(12 * S, { ready: 10, starting: 0 })).toMatchObject({ desired: 40, panic: true });
  });

  it('scale to zero only after a quiet stable window plus the grace period', () => {
    const p = new KpaPolicy(cfg({ initialScale: 0 }));
    p.record({ at: 10 * S, concurrency: 0.5, peak: 1, requests: 1 });
    expect(p.decide(60 * S, { ready: 1, starting: 0 })).toMatchObject({ desired: 1, reason: 'stable' });
    // key 10 leaves the 60 s window at 70 s; then grace until 10 + 60 + 30 = 100 s
    const grace = p.decide(70 * S, { ready: 1, starting: 0 });
    expect(grace).toMatchObject({ desired: 1, reason: 'scale-to-zero-grace', wakeAt: 100 * S });
    expect(p.decide(99.999 * S, { ready: 1, starting: 0 }).desired).toBe(1);
    expect(p.decide(100 * S, { ready: 1, starting: 0 })).toMatchObject({ desired: 0, reason: 'idle', wakeAt: Infinity });
  });

  it('the grace period is settable', () => {
    const p = new KpaPolicy(cfg({ initialScale: 0, scaleToZeroGraceMs: 0, stableWindowMs: 6000 }));
    p.record({ at: 1 * S, concurrency: 1, peak: 1, requests: 1 });
    expect(p.decide(6.5 * S, { ready: 1, starting: 0 }).desired).toBe(1);
    expect(p.decide(7 * S, { ready: 1, starting: 0 }).desired).toBe(0);
  });

  it('scales from zero at once on the activator poke', () => {
    const p = new KpaPolicy(cfg({ initialScale: 0 }));
    expect(p.decide(500 * S, { ready: 0, starting: 0 }).desired).toBe(0);
    p.onArrival(501 * S);
    expect(p.decide(501 * S, { ready: 0, starting: 0 })).toMatchObject({ desired: 1, reason: 'scale-from-zero' });
    // held for a stable window + grace after the poke even though no sample arrived
    expect(p.decide(590 * S, { ready: 1, starting: 0 }).desired).toBe(1);
    expect(p.decide(591 * S, { ready: 1, starting: 0 }).desired).toBe(0);
  });

  it('a burst of 200 buffered at the activator while at zero asks for ceil(200 / 0.7) = 286 at once', () => {
    const p = new KpaPolicy(cfg({ initialScale: 0 }));
    p.onArrival(100 * S);
    p.record({ at: 100 * S, concurrency: 200, peak: 200, requests: 200 });
    // first sample: both windows divide by one second; ready 0 counts as 1 → up to 1000× allowed
    expect(p.decide(100 * S, { ready: 0, starting: 0, inFlight: 200 })).toMatchObject({ desired: 286, panic: true });
  });

  it('initial scale holds until reached, then the idle countdown starts', () => {
    const p = new KpaPolicy(cfg({ initialScale: 3 }));
    expect(p.decide(0, { ready: 0, starting: 0 })).toMatchObject({ desired: 3, reason: 'initial-scale' });
    expect(p.decide(4 * S, { ready: 2, starting: 1 }).desired).toBe(3);
    // reached at 6 s: like Knative, that decision still holds 3 (the target is marked initialised
    // after the scale is computed); at 8 s the rate clamp floor(3/2) = 1, then 1 until 6 + 90 s
    expect(p.decide(6 * S, { ready: 3, starting: 0 })).toMatchObject({ desired: 3, reason: 'initial-scale' });
    expect(p.decide(8 * S, { ready: 3, starting: 0 }).desired).toBe(1);
    expect(p.decide(95 * S, { ready: 1, starting: 0 }).desired).toBe(1);
    expect(p.decide(96 * S, { ready: 1, starting: 0 }).desired).toBe(0);
  });

  it('minScale and maxScale bound the result', () => {
    const lo = new KpaPolicy(cfg({ minScale: 2, initialScale: 0 }));
    expect(lo.decide(1000 * S, { ready: 2, starting: 0 })).toMatchObject({ desired: 2, reason: 'min-scale' });
    const hi = new KpaPolicy(cfg({ maxScale: 3 }));
    feed(hi, 0, 60, 7);
    expect(hi.decide(60 * S, { ready: 3, starting: 0 })).toMatchObject({ desired: 3, reason: 'max-scale' });
  });

  it('reads function.json scaling fields (seconds) into the config', () => {
    const c = resolveScalingConfig({ policy: 'kpa', stableWindowS: 120, scaleToZeroGraceS: 5, maxScale: 4, targetUtilization: 0.5 }, 2);
    expect(c).toMatchObject({ stableWindowMs: 120_000, scaleToZeroGraceMs: 5_000, maxScale: 4, targetUtilization: 0.5, concurrency: 2 });
    expect(() => resolveScalingConfig({ minScale: 5, maxScale: 2 }, 1)).toThrow(/minScale 5 exceeds maxScale 2/);
  });
});
