import { describe, expect, it } from 'vitest';
import { latencyStatistics, normaliseToBase, percentile } from '../../src/benchkit/statistics.js';
import { sendLag, sendLagViolation } from '../../src/benchkit/send-lag.js';
import { hopTransfersMs, parseHops } from '../../src/benchkit/chain.js';
import { table31 } from '../../src/benchkit/report.js';

describe('latency statistics (hand-computed, type-7 percentiles)', () => {
  it('1..10', () => {
    const s = latencyStatistics([7, 1, 10, 3, 5, 2, 9, 4, 8, 6], 2);
    expect(s.count).toBe(10);
    expect(s.errors).toBe(2);
    expect(s.mean).toBeCloseTo(5.5, 12);
    expect(s.sd).toBeCloseTo(Math.sqrt(82.5 / 9), 12); // 3.02765…
    expect(s.min).toBe(1);
    expect(s.max).toBe(10);
    expect(s.p25).toBeCloseTo(3.25, 12); // h = 2.25
    expect(s.p50).toBeCloseTo(5.5, 12); // mean of the two middle values
    expect(s.p75).toBeCloseTo(7.75, 12);
    expect(s.p95).toBeCloseTo(9.55, 12); // h = 8.55
    expect(s.p99).toBeCloseTo(9.91, 12); // h = 8.91
    expect(s.tmr).toBeCloseTo(9.91 / 5.5, 12);
  });

  it('a skewed sample of four', () => {
    const s = latencyStatistics([80, 10, 40, 20]);
    expect(s.mean).toBe(37.5);
    expect(s.sd).toBeCloseTo(Math.sqrt(2875 / 3), 10); // 30.957
    expect(s.p50).toBeCloseTo(30, 12); // h = 1.5 → 20 + 0.5·20
    expect(s.p99).toBeCloseTo(78.8, 12); // h = 2.97 → 40 + 0.97·40
    expect(s.p25).toBeCloseTo(17.5, 12); // h = 0.75 → 10 + 0.75·10
    expect(s.tmr).toBeCloseTo(78.8 / 30, 12);
  });

  it('degenerate samples', () => {
    const one = latencyStatistics([42]);
    expect([one.min, one.p25, one.p50, one.p99, one.max, one.sd, one.tmr]).toEqual([42, 42, 42, 42, 42, 0, 1]);
    const none = latencyStatistics([], 5);
    expect(none.count).toBe(0);
    expect(none.errors).toBe(5);
    expect(Number.isNaN(none.p50)).toBe(true);
    expect(percentile([1, 2], 0)).toBe(1);
    expect(percentile([1, 2], 100)).toBe(2);
  });

  it('table 3.1: MR and TR are normalised to the base warm median', () => {
    expect(normaliseToBase({ p50: 250, p99: 750 }, 25)).toEqual({ mr: 10, tr: 30 });
    const mk = (title: string, p50: number, p99: number) => ({ summary: { title, p50, p99, count: 1, errors: 0, tmr: p99 / p50, coldCount: 0 } }) as never;
    const { base, rows } = table31([mk('cold', 500, 1500), mk('warm', 20, 40)], 'warm');
    expect(base).toBe('warm');
    expect(rows.map((r) => [r.title, r.mr, r.tr])).toEqual([
      ['cold', 25, 75],
      ['warm', 1, 2],
    ]);
  });
});

describe('client send lag', () => {
  it('judges burst starts, reports the spread inside bursts separately', () => {
    // Burst 0 due at 0: sent at 0.2, 0.5, 3.0 (spread 2.8); burst 1 due at 100: sent at 100.4.
    const lag = sendLag([
      { burstId: 0, scheduledMs: 0, sentMs: 0.2 },
      { burstId: 0, scheduledMs: 0, sentMs: 0.5 },
      { burstId: 0, scheduledMs: 0, sentMs: 3.0 },
      { burstId: 1, scheduledMs: 100, sentMs: 100.4 },
    ]);
    expect(lag.burstStartMaxMs).toBeCloseTo(0.4, 9);
    expect(lag.burstStartP99Ms).toBeCloseTo(0.2 + 0.99 * 0.2, 9);
    expect(lag.burstSpreadP99Ms).toBeCloseTo(0 + 0.99 * 2.8, 9);
    expect(lag.requestP99Ms).toBeGreaterThan(2.5);
    expect(sendLagViolation(lag, 1)).toBeUndefined();
    expect(sendLagViolation(lag, 0.3)).toMatch(/burst-start lag p99 0\.398 ms > 0\.3 ms/);
  });
});

describe('chain hops', () => {
  it('transfer into hop i+1 = its receive stamp − the producer’s transfer start', () => {
    const body = Buffer.from(JSON.stringify({ hops: [{ receivedAtMs: 1000, transferStartAtMs: 1010 }, { receivedAtMs: 1013.5, transferStartAtMs: 1020 }, { receivedAtMs: 1030 }] }));
    expect(hopTransfersMs(parseHops(body))).toEqual([3.5, 10]);
    expect(parseHops(Buffer.from('not json'))).toEqual([]);
  });
});
