import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAzureTrace } from '../../src/azure-trace/reader.js';
import { seededRng } from '../../src/benchkit/rng.js';
import { arrivalsInMinute, deployMemoryMB, fromPercentiles, planReplay } from '../../src/benchkit/replay/planner.js';

const TRACE = join(import.meta.dirname, 'fixtures', 'azure-tiny');

describe('replay planner on a hand-written Azure 2019 trace', () => {
  it('keeps only functions with durations and invocations; replays their per-minute counts exactly', async () => {
    const trace = await readAzureTrace(TRACE);
    expect(trace.minutes).toBe(4);
    // f3 has no invocations, f5 no duration percentiles: neither can be replayed.
    const plan = planReplay(trace, { sample: 10, minutes: 4, iat: 'equidistant' });
    expect(plan.functions.map((f) => f.hashFunction)).toEqual(['f1', 'f2', 'f4']);
    for (const f of plan.functions) {
      const counts = [0, 0, 0, 0];
      for (const inv of plan.invocations.filter((i) => i.fn === f.index)) counts[Math.floor(inv.scheduledMs / 60_000)]!++;
      expect(counts).toEqual(f.perMinute);
    }
    expect(plan.invocations).toHaveLength(11 + 4 + 13);
    // equidistant: f1's 6 invocations in minute 1 at 0, 10, 20, 30, 40, 50 s; f4's 4 at 0, 15, 30, 45 s.
    expect(plan.invocations.filter((i) => i.fn === 0 && i.scheduledMs < 60_000).map((i) => i.scheduledMs)).toEqual([0, 10_000, 20_000, 30_000, 40_000, 50_000]);
    expect(plan.invocations.filter((i) => i.fn === 2 && i.scheduledMs < 60_000).map((i) => i.scheduledMs)).toEqual([0, 15_000, 30_000, 45_000]);
    // ids follow time order
    expect(plan.invocations.map((i) => i.scheduledMs)).toEqual([...plan.invocations.map((i) => i.scheduledMs)].sort((a, b) => a - b));
  });

  it('draws execution times within each function’s percentiles, capped; memory from the app’s', async () => {
    const trace = await readAzureTrace(TRACE);
    const plan = planReplay(trace, { sample: 3, minutes: 4, iat: 'uniform', maxDurationMs: 5000 });
    for (const inv of plan.invocations) {
      const f = plan.functions[inv.fn]!;
      expect(inv.requestedDurationMs).toBeGreaterThanOrEqual(f.duration.percentilesMs['0']!);
      expect(inv.requestedDurationMs).toBeLessThanOrEqual(Math.min(5000, f.duration.percentilesMs['100']!));
    }
    const f1 = plan.functions.find((f) => f.hashFunction === 'f1')!;
    expect(f1.memoryMB).toBe(deployMemoryMB(f1.memory, 128));
    expect(f1.memoryMB).toBe(288); // (200 + 64) rounded up to 32 MB steps
    expect(plan.functions.find((f) => f.hashFunction === 'f4')!.memoryMB).toBe(128); // app a2 has no memory row
  });

  it('samples N functions reproducibly from the seed', async () => {
    const trace = await readAzureTrace(TRACE);
    const a = planReplay(trace, { sample: 2, minutes: 4, seed: 5 });
    expect(a.functions).toHaveLength(2);
    expect(planReplay(trace, { sample: 2, minutes: 4, seed: 5 })).toEqual(a);
    expect(() => planReplay(trace, { minutes: 9 })).toThrow(/minutes: the trace has 4 minutes/);
  });

  it('inverse CDF through percentile points: exact at the points, linear between', () => {
    const pts: [number, number][] = [[0, 10], [1, 20], [25, 50], [50, 100], [75, 200], [99, 300], [100, 400]];
    expect(fromPercentiles(pts, 0.5)).toBe(100);
    expect(fromPercentiles(pts, 0.625)).toBeCloseTo(150, 9);
    expect(fromPercentiles(pts, 0)).toBe(10);
    expect(fromPercentiles(pts, 1)).toBe(400);
    const rng = seededRng(9);
    const xs = Array.from({ length: 20_000 }, () => fromPercentiles(pts, rng())).sort((a, b) => a - b);
    expect(xs[10_000]).toBeGreaterThan(95);
    expect(xs[10_000]).toBeLessThan(105);
  });

  it('within-minute arrival patterns stay inside the minute with the right count', () => {
    const rng = seededRng(1);
    for (const iat of ['exponential', 'uniform', 'equidistant'] as const) {
      const t = arrivalsInMinute(50, iat, rng);
      expect(t).toHaveLength(50);
      expect(Math.min(...t)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...t)).toBeLessThan(60_000);
      expect(t).toEqual([...t].sort((a, b) => a - b));
    }
    // Poisson conditioned on the count: mean gap ≈ 60 s / (n + 1)
    const gaps: number[] = [];
    for (let k = 0; k < 400; k++) {
      const t = arrivalsInMinute(20, 'exponential', rng);
      gaps.push(t[0]!, ...t.slice(1).map((x, i) => x - t[i]!));
    }
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(mean).toBeGreaterThan((60_000 / 21) * 0.95);
    expect(mean).toBeLessThan((60_000 / 21) * 1.05);
  });
});
