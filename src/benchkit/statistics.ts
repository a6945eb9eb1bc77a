/**
 * Latency statistics as STeLLAR reports them. Percentiles use linear interpolation between closest
 * ranks (Hyndman & Fan type 7, numpy's and R's default): for sorted x[0..n−1] and p in [0,100],
 * h = (n − 1)·p/100 and P = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]). So p0 = min, p100 = max, and
 * p50 of an even-sized sample is the mean of the two middle values.
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

/** Percentile p (0–100) of an ascending-sorted sample; NaN for an empty one. */
export function percentile(sorted: readonly number[], p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (p <= 0) return sorted[0]!;
  if (p >= 100) return sorted[n - 1]!;
  const h = ((n - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

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
