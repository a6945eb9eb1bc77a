import { percentile } from '../core/percentile.js';

/**
 * Live request rate and latency percentiles over the last few seconds, for the dashboard: what
 * Prometheus would compute with rate() and histogram_quantile(), without a Prometheus. One-second
 * buckets in a ring; each bucket keeps its latencies (capped, then reservoir-sampled so a burst
 * cannot grow memory), so percentiles are exact at dashboard loads and close under heavy load.
 */
export interface LiveStats {
  /** Requests per second over the window. */
  rps: number;
  /** Requests in the window. */
  count: number;
  errors: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

interface Bucket {
  second: number;
  count: number;
  errors: number;
  latencies: number[];
}

export class RollingWindow {
  private readonly buckets: Bucket[];

  constructor(readonly windowSeconds = 10, private readonly maxSamplesPerSecond = 2000) {
    this.buckets = Array.from({ length: windowSeconds }, () => ({ second: -1, count: 0, errors: 0, latencies: [] }));
  }

  record(latencyMs: number, error = false, nowMs = Date.now()): void {
    const second = Math.floor(nowMs / 1000);
    const b = this.buckets[second % this.windowSeconds]!;
    if (b.second !== second) {
      b.second = second;
      b.count = 0;
      b.errors = 0;
      b.latencies.length = 0;
    }
    b.count++;
    if (error) b.errors++;
    if (b.latencies.length < this.maxSamplesPerSecond) b.latencies.push(latencyMs);
    else {
      const j = Math.floor(Math.random() * b.count);
      if (j < this.maxSamplesPerSecond) b.latencies[j] = latencyMs;
    }
  }

  stats(nowMs = Date.now()): LiveStats {
    const now = Math.floor(nowMs / 1000);
    let count = 0;
    let errors = 0;
    const all: number[] = [];
    for (const b of this.buckets) {
      if (b.second < 0 || b.second > now || now - b.second >= this.windowSeconds) continue;
      count += b.count;
      errors += b.errors;
      for (const l of b.latencies) all.push(l);
    }
    all.sort((a, b) => a - b);
    // The platform's one percentile (core/percentile.ts); null, not NaN, so the JSON says "no data".
    const empty = all.length === 0;
    return { rps: count / this.windowSeconds, count, errors, p50Ms: empty ? null : percentile(all, 50), p99Ms: empty ? null : percentile(all, 99) };
  }
}
