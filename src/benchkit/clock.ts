import { performance } from 'node:perf_hooks';

/**
 * The kit's clock: `performance.now()` is monotonic and sub-microsecond, so NTP steps never bend a
 * latency. Wall-clock epoch ms (for matching with the functions' own receive stamps, which are taken
 * on the same host) is derived from it as `timeOrigin + now()`.
 */
export const now = (): number => performance.now();
export const epochMs = (monotonicMs: number): number => performance.timeOrigin + monotonicMs;

/**
 * How early the open-loop client's coarse timer (setTimeout, which fires up to ~1 ms late, more
 * under load) wakes before a send is due; the rest is a setImmediate loop polling the clock.
 */
export const SPIN_WINDOW_MS = 1.5;
