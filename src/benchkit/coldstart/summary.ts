import { percentile } from '../../core/percentile.js';

/** Pure: summary statistics of a sample (the platform's one percentile, core/percentile.ts). */
export interface Summary {
  median: number;
  p99: number;
  mean: number;
}

export { percentile };

/** An empty sample summarises to zeros, as the study's tables always have. */
export function summarize(values: number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return { median: 0, p99: 0, mean: 0 };
  return { median: percentile(s, 50), p99: percentile(s, 99), mean: mean(s) };
}

export function mean(values: number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}
