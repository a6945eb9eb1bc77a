import type { ConcurrencySample, ScaleState, ScalingDecision, ScalingPolicy } from './policy.js';
import { applyScaleBounds, instancesFor, type ScalingConfig } from './config.js';
import { SlidingMax } from './sliding-max.js';

/**
 * AWS Lambda-style fixed keep-alive: one instance per concurrent request, and an instance that went
 * idle is kept for `keepAliveMs` (default 10 min) before it is reclaimed.
 *
 * Expressed as a count: if the caller reuses the most recently freed idle instance first (a stack),
 * the instance at depth i was last busy when concurrency last reached i, so "every instance idle for
 * less than the keep-alive" is exactly "the peak instance need over the last keep-alive". Hence the
 * desired scale is a sliding maximum, and the caller reclaims the least recently used idle ones.
 */
export class FixedKeepAlivePolicy implements ScalingPolicy {
  readonly name = 'fixed-keepalive';
  private readonly need: SlidingMax;

  constructor(private readonly cfg: ScalingConfig) {
    this.need = new SlidingMax(cfg.keepAliveMs);
  }

  record(sample: ConcurrencySample): void {
    const n = instancesFor(Math.max(sample.peak, sample.concurrency), this.cfg.concurrency);
    if (n > 0) this.need.push(sample.at, n);
  }

  onArrival(now: number, inFlight: number): void {
    this.need.push(now, instancesFor(inFlight + 1, this.cfg.concurrency));
  }

  decide(now: number, state: ScaleState): ScalingDecision {
    const inFlightNeed = instancesFor(state.inFlight ?? 0, this.cfg.concurrency);
    const windowNeed = this.need.max(now);
    const desired = applyScaleBounds(Math.max(windowNeed, inFlightNeed), this.cfg);
    const keepAliveUntil = this.need.nextExpiry();
    return {
      desired,
      panic: false,
      reason: windowNeed > 0 ? 'keep-alive' : 'idle',
      // Busy instances may free up at any time; otherwise nothing changes before the peak expires.
      wakeAt: inFlightNeed > windowNeed ? now + this.cfg.tickMs : keepAliveUntil,
      keepAliveUntil,
    };
  }
}

export function createFixedKeepAlive(cfg: ScalingConfig): ScalingPolicy {
  return new FixedKeepAlivePolicy(cfg);
}
