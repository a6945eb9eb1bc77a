import type { DurationPercentiles } from '../azure-trace/types.js';

/** Quantile points of the dataset's duration columns (0 and 100 = min and max). */
const QS = [0, 0.01, 0.25, 0.5, 0.75, 0.99, 1];
const KEYS = ['0', '1', '25', '50', '75', '99', '100'];

/**
 * Draws durations from a function's published percentiles: the inverse CDF interpolated linearly
 * between the known quantiles. Percentile values that decrease (rounding in the data) are lifted
 * so the curve stays monotone.
 */
export class DurationSampler {
  private readonly ms = new Float64Array(QS.length);

  constructor(d: DurationPercentiles | undefined, defaultMs: number) {
    let prev = 0;
    for (let i = 0; i < QS.length; i++) {
      const v = d?.percentilesMs[KEYS[i]!];
      const x = v !== undefined && Number.isFinite(v) ? v : d ? d.averageMs : defaultMs;
      prev = i === 0 ? Math.max(0, x) : Math.max(prev, x);
      this.ms[i] = prev;
    }
  }

  /** Duration (ms) at uniform draw u ∈ [0, 1). */
  at(u: number): number {
    let i = 1;
    while (i < QS.length - 1 && u > QS[i]!) i++;
    const q0 = QS[i - 1]!;
    const q1 = QS[i]!;
    const m0 = this.ms[i - 1]!;
    return m0 + ((this.ms[i]! - m0) * (u - q0)) / (q1 - q0);
  }
}
