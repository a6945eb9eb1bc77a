import type { ConcurrencySample, ScaleState, ScalingDecision, ScalingPolicy } from './policy.js';
import { applyScaleBounds, type ScalingConfig } from './config.js';
import { WindowAverage } from './window-average.js';
import { SlidingMax } from './sliding-max.js';
import {
  clamp,
  desiredFromAverage,
  isOverPanicThreshold,
  panicEnds,
  panicWindowMs,
  rateLowerBound,
  rateUpperBound,
  scaleToZeroAt,
  targetPerInstance,
  rpsTargetPerInstance,
  activationFloor,
} from './kpa-math.js';

/**
 * Knative's Pod Autoscaler for one function: stable and panic windows over the reported concurrency,
 * panic mode that never scales down, rate clamps, scale to zero after a quiet stable window plus a
 * grace period, and immediate scale from zero on the activator's poke.
 */
export class KpaPolicy implements ScalingPolicy {
  readonly name = 'kpa';
  private readonly window: WindowAverage;
  private readonly target: number;
  private readonly panicMs: number;
  /** Time of the last decision over the panic threshold; NaN when not panicking. */
  private lastOverAt = Number.NaN;
  private maxPanic = 0;
  /** Last sign of life: a non-zero sample, an arrival, or reaching the initial scale. */
  private lastActiveAt = Number.NaN;
  private initialReached: boolean;
  /** Knative's scale-down-delay window: the maximum want over the delay (absent when the delay is 0). */
  private readonly delay: SlidingMax | undefined;

  constructor(private readonly cfg: ScalingConfig) {
    this.window = new WindowAverage(cfg.stableWindowMs);
    this.target =
      cfg.metric === 'rps' ? rpsTargetPerInstance(cfg.targetUtilization, cfg.target) : targetPerInstance(cfg.concurrency, cfg.targetUtilization, cfg.target);
    this.delay = cfg.scaleDownDelayMs > 0 ? new SlidingMax(cfg.scaleDownDelayMs) : undefined;
    this.panicMs = panicWindowMs(cfg.stableWindowMs, cfg.panicWindowPct);
    this.initialReached = cfg.initialScale === 0;
  }

  record(sample: ConcurrencySample): void {
    // RPS: a sample covers one second, so its request count is that second's rate (Knative's
    // collector buckets per second too).
    this.window.record(sample.at, this.cfg.metric === 'rps' ? sample.requests : sample.concurrency);
    if (sample.concurrency > 0 || sample.peak > 0 || sample.requests > 0) {
      this.lastActiveAt = Number.isNaN(this.lastActiveAt) ? sample.at : Math.max(this.lastActiveAt, sample.at);
    }
  }

  onArrival(now: number): void {
    // Counts as activity: holds (or brings back) at least one instance for stable window + grace.
    this.lastActiveAt = Number.isNaN(this.lastActiveAt) ? now : Math.max(this.lastActiveAt, now);
  }

  decide(now: number, state: ScaleState): ScalingDecision {
    const cfg = this.cfg;
    // Knative marks the scale target initialised after it has computed this reconcile's scale
    // (computeActiveCondition runs after scaler.scale), so the decision that first sees the initial
    // scale reached still holds it; the next one is free.
    const reachesInitial = !this.initialReached && state.ready >= cfg.initialScale;
    const stableAvg = this.window.average(now, cfg.stableWindowMs);
    const panicAvg = this.window.average(now, this.panicMs);
    // (two scalars rather than rateBounds' pair: the simulator calls this tens of millions of times)
    const lo = rateLowerBound(state.ready, cfg.maxScaleDownRate);
    const hi = rateUpperBound(state.ready, cfg.maxScaleUpRate);
    const dspc = desiredFromAverage(stableAvg, this.target);
    const dppc = desiredFromAverage(panicAvg, this.target);
    const desiredStable = activationFloor(clamp(dspc, lo, hi), dspc, cfg.activationScale);
    const desiredPanic = activationFloor(clamp(dppc, lo, hi), dppc, cfg.activationScale);

    if (isOverPanicThreshold(desiredPanic, state.ready, cfg.panicThreshold)) {
      this.lastOverAt = now;
    } else if (!Number.isNaN(this.lastOverAt) && panicEnds(this.lastOverAt, now, cfg.stableWindowMs)) {
      this.lastOverAt = Number.NaN;
      this.maxPanic = 0;
    }
    const panic = !Number.isNaN(this.lastOverAt);

    let desired = desiredStable;
    let reason = 'stable';
    if (panic) {
      // Provision for whichever window asks more, and never shrink until the panic is over.
      this.maxPanic = Math.max(this.maxPanic, desiredStable, desiredPanic);
      desired = this.maxPanic;
      reason = 'panic';
    }
    if (this.delay) {
      // Scale-down delay: the highest want of the last scaleDownDelay wins (ups pass at once).
      this.delay.push(now, desired);
      const held = this.delay.max(now);
      if (held > desired) {
        desired = held;
        reason = 'scale-down-delay';
      }
    }

    let wakeAt = now + cfg.tickMs;
    if (desired === 0) {
      const zeroAt = Number.isNaN(this.lastActiveAt)
        ? -Infinity
        : scaleToZeroAt(this.lastActiveAt, cfg.stableWindowMs, Math.max(cfg.scaleToZeroGraceMs, cfg.scaleToZeroRetentionMs));
      if (now < zeroAt) {
        desired = 1;
        reason = state.ready + state.starting === 0 ? 'scale-from-zero' : 'scale-to-zero-grace';
        if (!this.window.hasDataIn(now, cfg.stableWindowMs) && !panic) wakeAt = zeroAt;
      } else {
        reason = 'idle';
        if (!panic) wakeAt = Infinity;
      }
    }
    if (!this.initialReached && desired < cfg.initialScale) {
      desired = cfg.initialScale;
      reason = 'initial-scale';
      wakeAt = now + cfg.tickMs;
    }
    if (reachesInitial) {
      this.initialReached = true;
      this.onArrival(now);
      wakeAt = Math.min(wakeAt, now + cfg.tickMs);
    }
    const bounded = applyScaleBounds(desired, cfg);
    if (bounded > desired) reason = 'min-scale';
    else if (bounded < desired) reason = 'max-scale';
    return { desired: bounded, panic, reason, wakeAt, observedStable: stableAvg, observedPanic: panicAvg };
  }
}

export function createKpa(cfg: ScalingConfig): ScalingPolicy {
  return new KpaPolicy(cfg);
}
