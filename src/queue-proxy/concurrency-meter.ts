/**
 * Time-weighted average concurrency (Σ concurrency·Δt / Δt) and request count since the last
 * sample: the metric Knative's queue-proxy reports to the autoscaler every second. Driven by an
 * injected clock so the arithmetic is testable.
 */
export class ConcurrencyMeter {
  private current = 0;
  private weighted = 0;
  private requests = 0;
  private peak = 0;
  private lastChange: number;
  private windowStart: number;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.lastChange = this.windowStart = now();
  }

  private accumulate(t: number): void {
    this.weighted += this.current * (t - this.lastChange);
    this.lastChange = t;
  }

  begin(): void {
    this.accumulate(this.now());
    this.current++;
    this.requests++;
    if (this.current > this.peak) this.peak = this.current;
  }

  end(): void {
    this.accumulate(this.now());
    this.current--;
  }

  get inFlight(): number {
    return this.current;
  }

  /** Average concurrency and request count since the previous sample; starts a new window. */
  sample(): { averageConcurrency: number; peak: number; requests: number; windowMs: number } {
    const t = this.now();
    this.accumulate(t);
    const windowMs = t - this.windowStart;
    const averageConcurrency = windowMs > 0 ? this.weighted / windowMs : this.current;
    const out = { averageConcurrency, peak: this.peak, requests: this.requests, windowMs };
    this.weighted = 0;
    this.requests = 0;
    this.peak = this.current;
    this.windowStart = t;
    return out;
  }
}
