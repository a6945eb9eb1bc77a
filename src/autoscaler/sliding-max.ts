/**
 * Maximum of timestamped values over a trailing window, in amortised O(1) per update: a monotonic
 * deque (values strictly decreasing from front to back). Inputs must come in time order.
 * The window may be given per query; entries dropped under a shorter window stay dropped if a
 * later query uses a longer one (callers that vary the window accept that under-estimate).
 */
export class SlidingMax {
  private times: Float64Array;
  private values: Float64Array;
  private head = 0;
  private tail = 0;

  constructor(private readonly windowMs: number, capacity = 16) {
    this.times = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
  }

  push(at: number, value: number): void {
    // Older entries no larger than the newcomer can never be the maximum again.
    while (this.tail > this.head && this.values[this.tail - 1]! <= value) this.tail--;
    if (this.tail === this.times.length) this.compact();
    this.times[this.tail] = at;
    this.values[this.tail] = value;
    this.tail++;
  }

  /** Drops entries that left the window ending at `now` (an entry at `t` counts while now < t + window). */
  private expire(now: number, windowMs: number): void {
    while (this.tail > this.head && this.times[this.head]! + windowMs <= now) this.head++;
  }

  max(now: number, windowMs = this.windowMs): number {
    this.expire(now, windowMs);
    return this.tail > this.head ? this.values[this.head]! : 0;
  }

  /** When the current maximum leaves the window (Infinity if empty). Call after `max(now)`. */
  nextExpiry(windowMs = this.windowMs): number {
    return this.tail > this.head ? this.times[this.head]! + windowMs : Infinity;
  }

  private compact(): void {
    const n = this.tail - this.head;
    if (n * 2 > this.times.length) {
      const t = new Float64Array(this.times.length * 2);
      const v = new Float64Array(this.values.length * 2);
      t.set(this.times.subarray(this.head, this.tail));
      v.set(this.values.subarray(this.head, this.tail));
      this.times = t;
      this.values = v;
    } else {
      this.times.copyWithin(0, this.head, this.tail);
      this.values.copyWithin(0, this.head, this.tail);
    }
    this.head = 0;
    this.tail = n;
  }
}
