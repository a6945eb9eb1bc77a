import { performance } from 'node:perf_hooks';

/**
 * The kit's clock: `performance.now()` is monotonic and sub-microsecond, so NTP steps never bend a
 * latency. Wall-clock epoch ms (for matching with the functions' own receive stamps, which are taken
 * on the same host) is derived from it as `timeOrigin + now()`.
 */
export const now = (): number => performance.now();
export const epochMs = (monotonicMs: number): number => performance.timeOrigin + monotonicMs;

/** How early the coarse timer wakes before the deadline; the rest is a yielding spin. */
export const SPIN_WINDOW_MS = 1.5;

/**
 * Resolves at `targetMs` (on the `now()` scale) with sub-millisecond precision: a coarse setTimeout
 * (which fires up to ~1 ms late, more under load) sleeps until just before the deadline, then a
 * setImmediate loop polls the clock. The spin yields to I/O each turn, so responses arriving
 * meanwhile are still timestamped promptly; it burns CPU for at most SPIN_WINDOW_MS per wait.
 */
export function waitUntil(targetMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const spin = (): void => {
      timer = undefined;
      if (now() >= targetMs || signal?.aborted) done();
      else setImmediate(spin);
    };
    // A long IAT (STeLLAR's cold experiments wait 15 min) must still end at once on Ctrl-C.
    signal?.addEventListener('abort', done, { once: true });
    const coarse = targetMs - now() - SPIN_WINDOW_MS;
    if (coarse > 1) timer = setTimeout(spin, coarse);
    else spin();
  });
}
