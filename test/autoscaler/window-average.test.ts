import { describe, expect, it } from 'vitest';
import { WindowAverage } from '../../src/autoscaler/window-average.js';
import { Rng } from '../../src/azure-trace/rng.js';

/** The obvious O(window) definition, to check the running sums against. */
function naive(samples: Map<number, number>, firstKey: number, now: number, windowMs: number): number {
  const hi = Math.floor(now / 1000 + 1e-9);
  const span = Math.round(windowMs / 1000);
  let sum = 0;
  for (let k = hi - span + 1; k <= hi; k++) sum += samples.get(k) ?? 0;
  const buckets = firstKey > hi - span ? hi - firstKey + 1 : span;
  return buckets > 0 ? sum / buckets : 0;
}

describe('window average', () => {
  it('running sums match the direct definition under gaps, jumps, same-second and late samples', () => {
    const rng = new Rng(11);
    const w = new WindowAverage(60_000);
    const samples = new Map<number, number>();
    let first = Number.NaN;
    let t = 0;
    for (let step = 0; step < 20_000; step++) {
      const r = rng.next();
      t += r < 0.7 ? 1000 : r < 0.9 ? 2000 : r < 0.97 ? rng.int(30) * 1000 : rng.int(200) * 1000; // jumps past the window too
      const k = Math.floor(t / 1000);
      const late = rng.next() < 0.1 ? k - rng.int(5) : k; // a sample for a recent second arriving late
      const v = rng.next() < 0.3 ? 0 : Math.round(rng.next() * 50) / 10;
      w.record(late * 1000, v);
      samples.set(late, (samples.get(late) ?? 0) + v);
      if (Number.isNaN(first) || late < first) first = late;
      for (const win of [60_000, 6_000]) {
        expect(w.average(t, win)).toBeCloseTo(naive(samples, first, t, win), 9);
      }
    }
  });

  it('averages over the seconds since the first sample until a window has passed', () => {
    const w = new WindowAverage(60_000);
    w.record(10_000, 3);
    w.record(11_000, 1);
    expect(w.average(11_000, 60_000)).toBe(2);
    expect(w.average(69_000, 60_000)).toBeCloseTo(4 / 60, 12);
    expect(w.average(71_000, 60_000)).toBe(0);
    expect(w.hasDataIn(70_000, 60_000)).toBe(true);
    expect(w.hasDataIn(71_000, 60_000)).toBe(false);
  });
});
