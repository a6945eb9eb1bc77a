import { describe, expect, it } from 'vitest';
import { seededRng } from '../../src/benchkit/rng.js';
import { burstSchedule, interArrivalTimes, planRequests } from '../../src/benchkit/schedule.js';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const cv = (xs: number[]) => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1)) / m;
};

describe('inter-arrival times', () => {
  const N = 20_000;
  it('fixed: every IAT equals iatSeconds', () => {
    expect(interArrivalTimes('fixed', 3, 5, seededRng(1))).toEqual([3, 3, 3, 3, 3]);
  });

  it('exponential (Poisson arrivals): mean ≈ IAT, coefficient of variation ≈ 1, P(X < mean) ≈ 1 − 1/e', () => {
    const xs = interArrivalTimes('exponential', 2, N, seededRng(42));
    expect(mean(xs)).toBeGreaterThan(2 * 0.97);
    expect(mean(xs)).toBeLessThan(2 * 1.03);
    expect(cv(xs)).toBeGreaterThan(0.95);
    expect(cv(xs)).toBeLessThan(1.05);
    const below = xs.filter((x) => x < 2).length / N;
    expect(below).toBeGreaterThan(1 - 1 / Math.E - 0.015);
    expect(below).toBeLessThan(1 - 1 / Math.E + 0.015);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
  });

  it('shifted-exponential: never below the shift, mean still ≈ IAT, CV ≈ (IAT − shift) / IAT', () => {
    const xs = interArrivalTimes('shifted-exponential', 10, N, seededRng(7), 4);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(4);
    expect(Math.min(...xs)).toBeLessThan(4.01); // the density is highest right at the shift
    expect(mean(xs)).toBeGreaterThan(10 * 0.97);
    expect(mean(xs)).toBeLessThan(10 * 1.03);
    expect(cv(xs)).toBeGreaterThan(0.6 * 0.95);
    expect(cv(xs)).toBeLessThan(0.6 * 1.05);
    // default shift: half the mean
    expect(Math.min(...interArrivalTimes('shifted-exponential', 10, 1000, seededRng(7)))).toBeGreaterThanOrEqual(5);
  });

  it('step: the i-th IAT is i × iatSeconds (a staircase of idle times, for probing keep-alive)', () => {
    expect(interArrivalTimes('step', 60, 4, seededRng(1))).toEqual([60, 120, 180, 240]);
  });

  it('is reproducible for a seed and differs across seeds', () => {
    const a = interArrivalTimes('exponential', 1, 50, seededRng(3));
    expect(interArrivalTimes('exponential', 1, 50, seededRng(3))).toEqual(a);
    expect(interArrivalTimes('exponential', 1, 50, seededRng(4))).not.toEqual(a);
  });
});

describe('burst schedule', () => {
  it('starts at 0, accumulates IATs, cycles burst sizes, round-robins replicas', () => {
    const b = burstSchedule({ bursts: 5, burstSizes: [1, 3], iatSeconds: 0.5, iatType: 'fixed', replicas: 2, seed: 1 });
    expect(b.map((x) => x.atMs)).toEqual([0, 500, 1000, 1500, 2000]);
    expect(b.map((x) => x.size)).toEqual([1, 3, 1, 3, 1]);
    expect(b.map((x) => x.replica)).toEqual([0, 1, 0, 1, 0]);
  });

  it('plans every request of a burst at the burst time, with service times cycled per request', () => {
    const p = planRequests({ bursts: 2, burstSizes: [2], iatSeconds: 1, iatType: 'fixed', replicas: 1, seed: 1, serviceTimes: [0, 10, 20] });
    expect(p.map((r) => [r.id, r.burstId, r.scheduledMs, r.serviceTimeMs])).toEqual([
      [0, 0, 0, 0],
      [1, 0, 0, 10],
      [2, 1, 1000, 20],
      [3, 1, 1000, 0],
    ]);
  });
});
