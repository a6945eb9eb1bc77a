/**
 * Per-second buckets of reported concurrency, averaged over a trailing window: Knative's
 * time-weighted bucketing. Missing seconds count as zero, so a caller may skip all-zero samples
 * (the simulator does, which keeps idle functions free).
 *
 * A bucket is keyed by floor(at / granularity); a window of W ms at time `now` covers the keys in
 * (floor(now/g) − W/g, floor(now/g)]. Samples from several instances in the same second add up.
 *
 * Each window length asked for keeps a running sum that slides with `now` (add the keys entering,
 * subtract the keys leaving), so a decision costs O(1) amortised instead of a loop over the window:
 * the simulator makes tens of millions of decisions. Any case the slide cannot follow (time going
 * backwards, a jump of a whole window, a bucket overwritten under it) falls back to summing afresh.
 */
interface RunningSum {
  span: number;
  /** Last key the sum was computed for (NaN: must recompute). */
  hi: number;
  sum: number;
}

export class WindowAverage {
  private readonly keys: Float64Array;
  private readonly values: Float64Array;
  private firstKey = Number.NaN;
  private maxKey = Number.NaN;
  private lastNonZeroKey = Number.NaN;
  private readonly sums: RunningSum[] = [];

  constructor(
    /** The longest window that will be asked for. */
    maxWindowMs: number,
    readonly granularityMs = 1000,
  ) {
    // Twice the longest window: keys leaving a window are still in the ring when they are subtracted.
    const n = 2 * Math.ceil(maxWindowMs / granularityMs) + 4;
    this.keys = new Float64Array(n).fill(-1);
    this.values = new Float64Array(n);
  }

  private keyOf(t: number): number {
    return Math.floor(t / this.granularityMs + 1e-9);
  }

  private valueAt(k: number): number {
    const i = k % this.keys.length;
    return this.keys[i] === k ? this.values[i]! : 0;
  }

  record(at: number, value: number): void {
    const k = this.keyOf(at);
    const n = this.keys.length;
    const i = k % n;
    const old = this.keys[i]!;
    if (old !== k) {
      // A sample older than the ring's reach would overwrite a newer bucket: drop it.
      if (old > k) return;
      if (old >= 0) for (const s of this.sums) if (old > s.hi - s.span && old <= s.hi) s.hi = Number.NaN;
      this.keys[i] = k;
      this.values[i] = 0;
    }
    this.values[i]! += value;
    for (const s of this.sums) if (k > s.hi - s.span && k <= s.hi) s.sum += value;
    if (Number.isNaN(this.firstKey) || k < this.firstKey) this.firstKey = k;
    if (!(k <= this.maxKey)) this.maxKey = k;
    if (value > 0 && !(k <= this.lastNonZeroKey)) this.lastNonZeroKey = k;
  }

  private windowSum(hi: number, span: number): number {
    let s: RunningSum | undefined;
    for (let i = 0; i < this.sums.length; i++) {
      if (this.sums[i]!.span === span) {
        s = this.sums[i];
        break;
      }
    }
    if (!s) {
      s = { span, hi: Number.NaN, sum: 0 };
      this.sums.push(s);
    }
    if (Number.isNaN(this.lastNonZeroKey) || this.lastNonZeroKey <= hi - span) {
      // Nothing non-zero in the window: exactly zero, which also clears rounding drift.
      s.hi = hi;
      s.sum = 0;
      return 0;
    }
    const slide = hi - s.hi;
    if (!(slide >= 0 && slide < span && this.maxKey - (s.hi - span) < this.keys.length)) {
      let sum = 0;
      for (let k = hi - span + 1; k <= hi; k++) sum += this.valueAt(k);
      s.sum = sum;
    } else {
      for (let k = s.hi + 1; k <= hi; k++) s.sum += this.valueAt(k);
      for (let k = s.hi - span + 1; k <= hi - span; k++) s.sum -= this.valueAt(k);
    }
    s.hi = hi;
    if (s.sum < 0) s.sum = 0;
    return s.sum;
  }

  /**
   * Average over the window ending at `now`. Until the first sample is a whole window old, divides by
   * the seconds since the first sample (as Knative does), so a new function reacts at once.
   */
  average(now: number, windowMs: number): number {
    if (Number.isNaN(this.firstKey)) return 0;
    const hi = this.keyOf(now);
    const span = Math.max(1, Math.round(windowMs / this.granularityMs));
    const lo = hi - span; // exclusive
    const sum = this.windowSum(hi, span);
    const buckets = this.firstKey > lo ? hi - this.firstKey + 1 : span;
    return buckets > 0 ? sum / buckets : 0;
  }

  /** End (ms) of the latest sampled period with non-zero concurrency (samples are stamped at their end); NaN if none. */
  lastNonZeroEnd(): number {
    return Number.isNaN(this.lastNonZeroKey) ? Number.NaN : this.lastNonZeroKey * this.granularityMs;
  }

  /** True if any non-zero bucket lies inside the window ending at `now`. */
  hasDataIn(now: number, windowMs: number): boolean {
    if (Number.isNaN(this.lastNonZeroKey)) return false;
    const hi = this.keyOf(now);
    return this.lastNonZeroKey > hi - Math.max(1, Math.round(windowMs / this.granularityMs));
  }
}
