import type { ConcurrencySample, ScaleState, ScalingDecision, ScalingPolicy } from './policy.js';
import { applyScaleBounds, instancesFor, type ScalingConfig } from './config.js';
import { IdleTimeHistogram } from './idle-time-histogram.js';
import { SlidingMax } from './sliding-max.js';

/** Tunables of the hybrid histogram policy; the defaults are the paper's. */
export const HYBRID_DEFAULTS = {
  rangeMs: 4 * 3600_000,
  binMs: 60_000,
  /** Pattern is "representative" when the bin counts' CV is at least this. */
  cvThreshold: 2,
  headPercentile: 0.05,
  tailPercentile: 0.99,
  /** 10 % margins: pre-warm a little earlier, keep a little longer. */
  prewarmMargin: 0.9,
  keepAliveMargin: 1.1,
  /** Below this many idle times the histogram says nothing yet: use the fixed range keep-alive. */
  minObservations: 5,
  /** More than this share of idle times beyond the range → the histogram is the wrong tool. */
  outOfBoundsShare: 0.5,
  /** Out-of-bounds fallback: EWMA forecast of the next idle time, window [0.85, 1.15] × forecast. */
  forecastAlpha: 0.5,
  forecastPrewarm: 0.85,
  forecastKeepAlive: 1.15,
} as const;

/** The windows the policy applies after an idle period starts at `s`: alive during [s + prewarm, s + keepAliveEnd). */
export interface HybridWindows {
  mode: 'histogram' | 'fixed' | 'forecast';
  prewarmMs: number;
  keepAliveEndMs: number;
}

/**
 * Pure: the windows a histogram calls for. Representative (CV ≥ 2, enough samples) → pre-warm at
 * the 5th-percentile bin's lower edge × 0.9 and keep until the 99th-percentile bin's upper edge × 1.1.
 * Mostly out of bounds → the paper uses an ARIMA forecast; we use an EWMA of the out-of-bounds idle
 * times (`forecastMs`), which needs no model fitting and is conservative with the ±15 % window.
 * Otherwise → the fixed keep-alive of the whole range (4 h), no pre-warm.
 */
export function hybridWindows(h: IdleTimeHistogram, forecastMs: number, p = HYBRID_DEFAULTS): HybridWindows {
  if (h.total > 0 && h.outOfBounds / h.total > p.outOfBoundsShare && forecastMs > 0) {
    return { mode: 'forecast', prewarmMs: forecastMs * p.forecastPrewarm, keepAliveEndMs: forecastMs * p.forecastKeepAlive };
  }
  if (h.inBounds >= p.minObservations && h.binCountCv() >= p.cvThreshold) {
    const head = h.percentileBin(p.headPercentile);
    const tail = h.percentileBin(p.tailPercentile);
    return { mode: 'histogram', prewarmMs: head * h.binMs * p.prewarmMargin, keepAliveEndMs: (tail + 1) * h.binMs * p.keepAliveMargin };
  }
  return { mode: 'fixed', prewarmMs: 0, keepAliveEndMs: h.rangeMs };
}

/**
 * Shahrad et al.'s hybrid histogram policy, per function: learn the idle-time distribution, unload
 * the instance right after activity when the next arrival is predictably far, load it back just
 * before it is expected (pre-warm) and keep it until the tail of the distribution.
 *
 * The paper models one instance per application. With concurrent requests we generalise the way
 * fixed keep-alive does: while busy, one instance per concurrent request; in the keep-alive window
 * as many instances as the peak need seen within that window (at least one), so a hot function's
 * instances live for the learnt keep-alive instead of a constant one; a pre-warm brings back one.
 */
export class HybridHistogramPolicy implements ScalingPolicy {
  readonly name = 'hybrid-histogram';
  readonly histogram: IdleTimeHistogram;
  /** End of the last activity (arrival or busy sample): the start of the current idle period. */
  private lastActivity = Number.NaN;
  private forecastMs = 0;
  private needSinceDecide = 0;
  /** Peak instance need over time, queried with the current keep-alive window. */
  private readonly need: SlidingMax;
  private windows: HybridWindows;

  constructor(
    private readonly cfg: ScalingConfig,
    private readonly p = HYBRID_DEFAULTS,
  ) {
    this.histogram = new IdleTimeHistogram(p.rangeMs, p.binMs);
    this.need = new SlidingMax(p.rangeMs);
    this.windows = hybridWindows(this.histogram, 0, p);
  }

  record(sample: ConcurrencySample): void {
    const n = instancesFor(Math.max(sample.peak, sample.concurrency), this.cfg.concurrency);
    if (n === 0) return;
    if (n > this.needSinceDecide) this.needSinceDecide = n;
    this.need.push(sample.at, n);
    if (!(sample.at <= this.lastActivity)) this.lastActivity = sample.at;
  }

  onArrival(now: number, inFlight: number): void {
    if (inFlight === 0 && !Number.isNaN(this.lastActivity)) {
      const idle = Math.max(0, now - this.lastActivity);
      this.histogram.add(idle);
      if (idle >= this.histogram.rangeMs) {
        this.forecastMs = this.forecastMs === 0 ? idle : this.p.forecastAlpha * idle + (1 - this.p.forecastAlpha) * this.forecastMs;
      }
      this.windows = hybridWindows(this.histogram, this.forecastMs, this.p);
    }
    if (!(now <= this.lastActivity)) this.lastActivity = now;
    const n = instancesFor(inFlight + 1, this.cfg.concurrency);
    if (n > this.needSinceDecide) this.needSinceDecide = n;
    this.need.push(now, n);
  }

  /** The windows currently in force (for status output and tests). */
  currentWindows(): HybridWindows {
    return this.windows;
  }

  decide(now: number, state: ScaleState): ScalingDecision {
    const busy = Math.max(this.needSinceDecide, instancesFor(state.inFlight ?? 0, this.cfg.concurrency));
    this.needSinceDecide = 0;
    const s = this.lastActivity;
    const w = this.windows;
    let want = 0;
    let reason = 'idle';
    let wakeAt = Infinity;
    const prewarmAt = s + w.prewarmMs;
    const keepAliveUntil = s + w.keepAliveEndMs;
    if (!Number.isNaN(s)) {
      if (now < prewarmAt) {
        reason = 'unloaded';
        wakeAt = prewarmAt;
      } else if (now < keepAliveUntil) {
        // Instances used within the keep-alive window stay; a pre-warm brings back one.
        const peak = w.prewarmMs > 0 ? 0 : this.need.max(now, w.keepAliveEndMs);
        want = Math.max(1, peak);
        reason = w.prewarmMs > 0 ? 'pre-warm' : 'keep-alive';
        wakeAt = Math.min(keepAliveUntil, peak > 1 ? this.need.nextExpiry(w.keepAliveEndMs) : Infinity);
      }
    }
    if (busy > 0) {
      want = Math.max(want, busy, w.prewarmMs > 0 ? 0 : this.need.max(now, w.keepAliveEndMs));
      reason = 'busy';
      wakeAt = now + this.cfg.tickMs;
    }
    const decision: ScalingDecision = { desired: applyScaleBounds(want, this.cfg), panic: false, reason, wakeAt };
    if (!Number.isNaN(s)) {
      decision.keepAliveUntil = keepAliveUntil;
      if (w.prewarmMs > 0) decision.prewarmAt = prewarmAt;
    }
    return decision;
  }
}

export function createHybridHistogram(cfg: ScalingConfig): ScalingPolicy {
  return new HybridHistogramPolicy(cfg);
}
