/**
 * The platform's one percentile definition, used wherever a percentile is printed (the benchmark
 * kit, the cold-start study, the dashboard's live window, the XDT benchmarks): linear interpolation
 * between closest ranks (Hyndman & Fan type 7, the default of numpy, R and pandas, and what the
 * STeLLAR-style kit reported from the start). For sorted x[0..n−1] and p in [0,100],
 * h = (n − 1)·p/100 and P = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]): p0 is the minimum, p100 the
 * maximum, p50 of an even-sized sample the mean of the two middle values.
 *
 * Why this one and not the nearest rank: it moves continuously with the sample instead of jumping
 * from one observation to the next, so two runs' p99 differ by their data and not by where a rank
 * boundary fell, and figures match the numpy/pandas scripts researchers analyse raw samples with.
 * docs/STATISTICS.md states it for readers of the reports.
 *
 * An empty sample has no percentile: NaN (callers that print JSON turn it into null).
 */
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
