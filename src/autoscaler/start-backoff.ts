/**
 * Back-off for a function whose instances fail to start or miss their start deadline: after the
 * n-th failure in a row no new start is made for `initialMs · 2^(n-1)` (at most `maxMs`); a start
 * that succeeds resets it. Without it the autoscaler asks again at every tick for the instances
 * that just failed, and on an overloaded host each new attempt takes the CPU the previous one
 * lacked (issue 18: "the autoscaler does not back off from instances that cannot start").
 *
 * Pure bookkeeping: time is the caller's clock in milliseconds, passed in.
 */

export interface StartBackoffConfig {
  initialMs: number;
  maxMs: number;
}

export const START_BACKOFF_DEFAULTS: StartBackoffConfig = { initialMs: 1000, maxMs: 30_000 };

export class StartBackoff {
  /** Failed starts since the last success. */
  failures = 0;
  /** No start before this time (ms); -Infinity when not backing off. */
  until = -Infinity;

  constructor(private readonly cfg: StartBackoffConfig = START_BACKOFF_DEFAULTS) {}

  /**
   * A start failed at `now`: returns the back-off (ms) from now. Starts made together fail together
   * (a round that missed its deadline on an overloaded host): a failure during a back-off already
   * running is of the same round and does not lengthen it.
   */
  failed(now: number): number {
    if (this.blocked(now)) return this.until - now;
    this.failures++;
    const delay = Math.min(this.cfg.maxMs, this.cfg.initialMs * 2 ** Math.min(this.failures - 1, 30));
    this.until = Math.max(this.until, now + delay);
    return delay;
  }

  succeeded(): void {
    this.failures = 0;
    this.until = -Infinity;
  }

  /** Whether new starts wait at `now`. */
  blocked(now: number): boolean {
    return now < this.until;
  }
}
