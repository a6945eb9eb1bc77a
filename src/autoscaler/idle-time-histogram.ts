/**
 * Histogram of a function's idle times (gap between the end of activity and the next arrival), as in
 * Shahrad et al., "Serverless in the Wild" (USENIX ATC'20): a fixed range (4 h) in 1-minute bins,
 * plus a count of idle times beyond the range ("out of bounds").
 */
export class IdleTimeHistogram {
  readonly bins: Uint32Array;
  inBounds = 0;
  outOfBounds = 0;

  constructor(
    readonly rangeMs = 4 * 3600_000,
    readonly binMs = 60_000,
  ) {
    this.bins = new Uint32Array(Math.ceil(rangeMs / binMs));
  }

  add(idleMs: number): void {
    const b = Math.floor(Math.max(0, idleMs) / this.binMs);
    if (b >= this.bins.length) {
      this.outOfBounds++;
    } else {
      this.bins[b]!++;
      this.inBounds++;
    }
  }

  get total(): number {
    return this.inBounds + this.outOfBounds;
  }

  /**
   * Index of the bin holding the q-quantile (0 < q ≤ 1) of the in-bounds idle times: the first bin
   * whose cumulative count reaches q · inBounds. -1 if empty.
   */
  percentileBin(q: number): number {
    if (this.inBounds === 0) return -1;
    const need = q * this.inBounds;
    let cum = 0;
    for (let b = 0; b < this.bins.length; b++) {
      cum += this.bins[b]!;
      if (cum >= need - 1e-9 && cum > 0) return b;
    }
    return this.bins.length - 1;
  }

  /**
   * Coefficient of variation of the bin counts (not of the idle times): high when the idle times
   * crowd into a few bins, i.e. when the function's pattern is predictable.
   */
  binCountCv(): number {
    const n = this.bins.length;
    if (this.inBounds === 0) return 0;
    const mean = this.inBounds / n;
    let ss = 0;
    for (let b = 0; b < n; b++) {
      const d = this.bins[b]! - mean;
      ss += d * d;
    }
    return Math.sqrt(ss / n) / mean;
  }
}
