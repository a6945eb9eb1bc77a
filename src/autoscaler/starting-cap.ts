/**
 * How many instances of one function may be starting at once, relative to its ready ones: the
 * analogue for starts in progress of Knative's `max-scale-up-rate` (which caps the desired count
 * relative to ready pods per 2 s tick, default 1000× — no brake at all on one machine).
 *
 * Why: the KPA sizes a function by its in-flight requests, and when the host slows down those grow
 * although no more instances would help; every start asked for then takes CPU from the instances
 * that serve, so the requests slow further and still more starts are asked for (the soak of issue
 * 18: ~100 instances starting at once on 2 cores, none finishing in 30 s, for the rest of the run).
 * Growing by at most `perReady` starts per ready instance (plus a `floor`, so a function at zero or
 * a cold burst still gets several at once) makes growth geometric — it doubles per start round at
 * the default — and a function whose starts do not finish stops asking for more.
 */

export interface StartingCap {
  /** Starts a function may always have in progress, whatever its ready count. */
  floor: number;
  /** Further starts in progress allowed per ready instance. */
  perReady: number;
}

export const STARTING_CAP_DEFAULTS: StartingCap = { floor: 4, perReady: 1 };

/** The most instances of a function that may be starting at once with `ready` of them ready. */
export function maxStarting(ready: number, cap: StartingCap): number {
  return Math.max(cap.floor, Math.ceil(Math.max(0, ready) * cap.perReady - 1e-9));
}

/** Of `wanted` new starts, how many may begin now with `ready` instances ready and `starting` under way. */
export function startsAllowed(wanted: number, ready: number, starting: number, cap: StartingCap): number {
  return Math.max(0, Math.min(wanted, maxStarting(ready, cap) - starting));
}
