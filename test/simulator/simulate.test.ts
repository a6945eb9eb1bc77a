import { describe, expect, it } from 'vitest';
import type { AzureFunctionTrace, AzureTrace } from '../../src/azure-trace/types.js';
import { comparePolicies, simulateTrace } from '../../src/simulator/index.js';
import { DurationSampler } from '../../src/simulator/duration-sampler.js';
import { CompletionHeap } from '../../src/simulator/completion-heap.js';

function fn(perMinute: number[], durationMs: number, memoryMB = 1024): AzureFunctionTrace {
  const p = Object.fromEntries(['0', '1', '25', '50', '75', '99', '100'].map((k) => [k, durationMs]));
  return {
    hashOwner: 'o',
    hashApp: 'a',
    hashFunction: `f${Math.random()}`,
    trigger: 'http',
    perMinute,
    duration: { averageMs: durationMs, count: 0, minimumMs: durationMs, maximumMs: durationMs, percentilesMs: p },
    memory: { sampleCount: 1, averageMB: memoryMB, percentilesMB: {} },
  };
}
const minutes = (n: number, at: Record<number, number>): number[] => Array.from({ length: n }, (_, m) => at[m] ?? 0);
const trace = (...functions: AzureFunctionTrace[]): AzureTrace => ({ day: 'test', minutes: functions[0]!.perMinute.length, functions });

// One invocation of 1 s at 30 s, 330 s and 1230 s (equidistant: the middle of minutes 0, 5, 20).
const sparse = trace(fn(minutes(30, { 0: 1, 5: 1, 20: 1 }), 1000));
const eq = { arrivals: 'equidistant' as const };

describe('policy simulator', () => {
  it('fixed keep-alive 10 min: hand-counted cold starts and idle memory', () => {
    const r = simulateTrace(sparse, { ...eq, policy: 'fixed-keepalive' });
    // 30 s cold; 330 s warm (kept until 331 + 600 = 931 s); 1230 s cold (kept past the end, 1800 s).
    expect(r.invocations).toBe(3);
    expect(r.coldStarts).toBe(2);
    expect(r.coldStartPct).toBeCloseTo(200 / 3, 9);
    // alive 30–931 s and 1230–1800 s, 1 GB, minus 3 s busy: 901 + 570 − 3 = 1468 GB·s
    expect(r.idleMemoryGBs).toBeCloseTo(1468, 6);
    expect(r.busyMemoryGBs).toBeCloseTo(3, 6);
    expect(r.simulatedSeconds).toBe(1800);
    // sampled at each minute start: alive during minutes 1..15 (31 s … 931 s) and 21..29
    expect(Array.from(r.instancesPerMinute)).toEqual(minutes(30, Object.fromEntries([...range(1, 15), ...range(21, 29)].map((m) => [m, 1]))));
  });

  it('a shorter keep-alive turns the second arrival cold', () => {
    const r = simulateTrace(sparse, { ...eq, policy: 'fixed-keepalive', scaling: { keepAliveS: 240 } });
    expect(r.coldStarts).toBe(3);
    // each instance alive 240 s after its 1 s of work (the last ends before 1800 s)
    expect(r.idleMemoryGBs).toBeCloseTo(3 * 240, 6);
  });

  it('KPA (initialScale 0): scale to zero 60 s + 30 s after the last busy second', () => {
    const r = simulateTrace(sparse, { ...eq, policy: 'kpa', scaling: { initialScale: 0 } });
    expect(r.coldStarts).toBe(3);
    // each: alive from arrival (30) to 31 + 90 = 121 s → 91 s, 1 s busy → 90 s idle
    expect(r.idleMemoryGBs).toBeCloseTo(270, 6);
  });

  it('KPA default initialScale 1 starts one instance at time 0, which serves the first arrival', () => {
    const r = simulateTrace(sparse, { ...eq, policy: 'kpa' });
    expect(r.coldStarts).toBe(2);
    // 0–121 s alive (1 s busy), then 330–421 s and 1230–1321 s: 120 + 90 + 90
    expect(r.idleMemoryGBs).toBeCloseTo(300, 6);
  });

  it('hybrid histogram: no history → fixed 4 h keep-alive after the first use', () => {
    const r = simulateTrace(sparse, { ...eq, policy: 'hybrid-histogram' });
    expect(r.coldStarts).toBe(1);
    expect(r.idleMemoryGBs).toBeCloseTo(1800 - 30 - 3, 6);
  });

  it('hybrid histogram learns a 10-minute timer and pre-warms instead of keeping alive', () => {
    // one 1 s invocation every 10 minutes for 6 hours
    const per = minutes(360, Object.fromEntries(range(0, 35).map((k) => [k * 10, 1])));
    const [fixed, hybrid] = comparePolicies(trace(fn(per, 1000)), ['fixed-keepalive', 'hybrid-histogram'], eq);
    // fixed 10 min: the idle gap is 599 s < 600 s → all warm after the first
    expect(fixed!.coldStarts).toBe(1);
    expect(hybrid!.coldStarts).toBe(1);
    // hybrid learns after 5 idle times; afterwards it unloads for 8.1 min per period and wastes far less
    expect(hybrid!.idleMemoryGBs).toBeLessThan(fixed!.idleMemoryGBs * 0.5);
  });

  it('overlapping requests need one instance each; a freed instance is reused', () => {
    // 10 s, 30 s, 50 s arrivals of 25 s each: 10–35 and 30–55 overlap, 50 s finds the first one free
    const r = simulateTrace(trace(fn(minutes(3, { 0: 3 }), 25_000)), { ...eq, policy: 'fixed-keepalive' });
    expect(r.coldStarts).toBe(2);
    expect(r.instancesPerMinute[1]).toBe(2);
  });

  it('the same seed gives the same result, every policy sees the same invocations', () => {
    const t = trace(fn(minutes(120, { 3: 40, 4: 5, 50: 200, 51: 1 }), 300), fn(minutes(120, { 7: 3, 100: 9 }), 5000, 256));
    const a = comparePolicies(t, ['kpa', 'fixed-keepalive', 'hybrid-histogram'], { seed: 5 });
    const b = comparePolicies(t, ['kpa', 'fixed-keepalive', 'hybrid-histogram'], { seed: 5 });
    expect(a.map((r) => [r.coldStarts, r.idleMemoryGBs])).toEqual(b.map((r) => [r.coldStarts, r.idleMemoryGBs]));
    expect(a.map((r) => r.invocations)).toEqual([258, 258, 258]);
    expect(() => simulateTrace(t, { policy: 'nope' })).toThrow(/unknown scaling policy "nope"/);
  });
});

describe('simulator parts', () => {
  it('durations interpolate the inverse CDF between published percentiles', () => {
    const s = new DurationSampler(
      { averageMs: 0, count: 1, minimumMs: 10, maximumMs: 1000, percentilesMs: { '0': 10, '1': 20, '25': 100, '50': 200, '75': 300, '99': 500, '100': 1000 } },
      1,
    );
    expect(s.at(0)).toBe(10);
    expect(s.at(0.5)).toBe(200);
    expect(s.at(0.375)).toBeCloseTo(150, 9);
    expect(s.at(0.995)).toBeCloseTo(750, 9);
    expect(new DurationSampler(undefined, 42).at(0.7)).toBe(42);
  });
  it('completion heap pops in time order', () => {
    const h = new CompletionHeap();
    const xs = [5, 1, 9, 3, 3, 200, 0.5, 7, 8, 2];
    for (let i = 0; i < 20; i++) for (const x of xs) h.push(x + i * 1000);
    const out: number[] = [];
    while (h.size) out.push(h.pop());
    expect(out).toEqual([...out].sort((a, b) => a - b));
    expect(out).toHaveLength(200);
  });
});

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}
