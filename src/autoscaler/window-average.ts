/**
 * Per-second buckets of reported concurrency, averaged over a trailing window: Knative's
 * time-weighted bucketing. Missing seconds count as zero, so a caller may skip all-zero samples
 * (the simulator does, which keeps idle functions free).
 *
 * A bucket is keyed by floor(at / granularity); a window of W ms at time `now` covers the keys in
 * (floor((now − W)/g), floor(now/g)]. Samples from several instances in the same second add up.
 */
export class WindowAverage {
  private readonly keys: Float64Array;
  private readonly values: Float64Array;
  private firstKey = Number.NaN;
  private lastNonZeroKey = Number.NaN;

  constructor(
    /** The longest window that will be asked for. */
    maxWindowMs: number,
    readonly granularityMs = 1000,
  ) {
    const n = Math.ceil(maxWindowMs / granularityMs) + 2;
    this.keys = new Float64Array(n).fill(-1);
    this.values = new Float64Array(n);
  }

  private keyOf(t: number): number {
    return Math.floor(t / this.granularityMs + 1e-9);
  }

  record(at: number, value: number): void {
    const k = this.keyOf(at);
    const n = this.keys.length;
    const i = k % n;
    if (this.keys[i] !== k) {
      // A sample older than the ring's reach would overwrite a newer bucket: drop it.
      if (this.keys[i]! > k) return;
      this.keys[i] = k;
      this.values[i] = 0;
    }
    this.values[i]! += value;
    if (Number.isNaN(this.firstKey) || k < this.firstKey) this.firstKey = k;
    if (value > 0 && !(k <= this.lastNonZeroKey)) this.lastNonZeroKey = k;
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
    let sum = 0;
    const n = this.keys.length;
    for (let k = Math.max(lo + 1, this.firstKey); k <= hi; k++) {
      const i = k % n;
      if (this.keys[i] === k) sum += this.values[i]!;
    }
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
