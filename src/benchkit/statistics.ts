import { percentile } from '../core/percentile.js';

// The kit's modules take the platform's one percentile from here.
export { percentile };

/**
 * Latency statistics as STeLLAR reports them. Percentiles are the platform's one definition
 * (core/percentile.ts: linear interpolation between closest ranks, Hyndman & Fan type 7).
 * The standard deviation is the sample one (divides by n − 1). The tail-to-median ratio (TMR) is
 * p99 / p50 (thesis §3.4: above 10 is "potentially problematic").
 */
export interface LatencyStatistics {
  /** Successful requests (2xx) the latency figures are computed over. */
  count: number;
  /** Requests that failed (non-2xx or no response); they are not in the latency figures. */
  errors: number;
  mean: number;
  sd: number;
  min: number;
  p25: number;
  p50: number;
  p75: number;
  p95: number;
  p99: number;
  max: number;
  tmr: number;
}

export const STATISTICS_COLUMNS = ['count', 'errors', 'mean', 'sd', 'min', 'p25', 'p50', 'p75', 'p95', 'p99', 'max', 'tmr'] as const;

export function latencyStatistics(latenciesMs: readonly number[], errors = 0): LatencyStatistics {
  const xs = [...latenciesMs].sort((a, b) => a - b);
  const n = xs.length;
  const mean = n ? xs.reduce((s, x) => s + x, 0) / n : NaN;
  const sd = n > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : n === 1 ? 0 : NaN;
  const p50 = percentile(xs, 50);
  const p99 = percentile(xs, 99);
  return {
    count: n,
    errors,
    mean,
    sd,
    min: n ? xs[0]! : NaN,
    p25: percentile(xs, 25),
    p50,
    p75: percentile(xs, 75),
    p95: percentile(xs, 95),
    p99,
    max: n ? xs[n - 1]! : NaN,
    tmr: p50 > 0 ? p99 / p50 : NaN,
  };
}

/**
 * STeLLAR table 3.1: an experiment's median ratio MR = p50 / base p50 and tail ratio
 * TR = p99 / base p50, both normalised to the base warm experiment's *median*.
 */
export function normaliseToBase(stats: Pick<LatencyStatistics, 'p50' | 'p99'>, baseWarmMedianMs: number): { mr: number; tr: number } {
  return { mr: stats.p50 / baseWarmMedianMs, tr: stats.p99 / baseWarmMedianMs };
}
