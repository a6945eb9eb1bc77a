/**
 * The KPA's arithmetic as pure functions (Knative Serving pkg/autoscaler/scaling), so each rule can
 * be checked by hand in isolation.
 */

/** Knative's containerConcurrency=0 ("unlimited") falls back to this per-instance target. */
export const UNLIMITED_CONCURRENCY_TARGET = 100;

/**
 * Per-instance concurrency the autoscaler aims for: `max(0.01, cc · utilisation)`, where cc is the
 * explicit `target` if given (capped by the hard `concurrency` limit), else the concurrency limit,
 * else 100 when unlimited. The floor keeps the division in `desiredFromAverage` finite.
 */
export function targetPerInstance(concurrency: number, utilization: number, target?: number): number {
  let cc = concurrency > 0 ? concurrency : UNLIMITED_CONCURRENCY_TARGET;
  if (target !== undefined) cc = concurrency > 0 ? Math.min(target, concurrency) : target;
  return Math.max(0.01, cc * utilization);
}

/**
 * ceil(average / target). The epsilon absorbs binary rounding (2.1 / 0.7 = 3.0000000000000004 must
 * mean 3 instances, not 4).
 */
export function desiredFromAverage(average: number, target: number): number {
  if (average <= 0) return 0;
  return Math.ceil(average / target - 1e-9);
}

/**
 * The rate clamps: in one decision the scale may shrink at most by maxScaleDownRate× and grow at
 * most by maxScaleUpRate×, relative to the ready count (counted as at least 1 so a function at zero
 * can grow). Returns [lower, upper].
 */
export function rateBounds(ready: number, maxScaleUpRate: number, maxScaleDownRate: number): [number, number] {
  return [rateLowerBound(ready, maxScaleDownRate), rateUpperBound(ready, maxScaleUpRate)];
}

export function rateLowerBound(ready: number, maxScaleDownRate: number): number {
  return Math.floor(Math.max(1, ready) / maxScaleDownRate);
}

export function rateUpperBound(ready: number, maxScaleUpRate: number): number {
  return Math.ceil(Math.max(1, ready) * maxScaleUpRate);
}

export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** Panic starts (or is extended) when the panic window alone would need threshold× the ready instances. */
export function isOverPanicThreshold(desiredPanic: number, ready: number, panicThreshold: number): boolean {
  return desiredPanic / Math.max(1, ready) >= panicThreshold;
}

/**
 * Panic ends once a whole stable window has passed since the last decision over the threshold: by
 * then the surge is fully inside the stable average, which can take over without a drop.
 */
export function panicEnds(lastOverAt: number, now: number, stableWindowMs: number): boolean {
  return now > lastOverAt + stableWindowMs;
}

/** The panic window length: a percentage of the stable window (Knative: 10 % of 60 s = 6 s). */
export function panicWindowMs(stableWindowMs: number, panicWindowPct: number): number {
  return (stableWindowMs * panicWindowPct) / 100;
}

/**
 * When a function may reach zero: the stable average has been zero for a whole stable window since
 * the last activity, plus the grace period (time for the activator to get back into the path).
 */
export function scaleToZeroAt(lastActiveAt: number, stableWindowMs: number, graceMs: number): number {
  return lastActiveAt + stableWindowMs + graceMs;
}

/** Knative's requests-per-second-target-default. */
export const DEFAULT_RPS_TARGET = 200;

/**
 * Per-instance requests-per-second target under metric "rps": `max(0.01, target · utilisation)`,
 * 200 · 0.7 = 140 by default. The concurrency limit does not cap it (Knative caps only the
 * concurrency metric by containerConcurrency).
 */
export function rpsTargetPerInstance(utilization: number, target?: number): number {
  return Math.max(0.01, (target ?? DEFAULT_RPS_TARGET) * utilization);
}

/**
 * Activation scale: a non-zero want (`raw`, before the rate clamps) is raised to at least
 * `activationScale`; Knative applies it only when it is above 1, and never to a want of zero.
 */
export function activationFloor(desired: number, raw: number, activationScale: number): number {
  return activationScale > 1 && raw > 0 && desired < activationScale ? activationScale : desired;
}
