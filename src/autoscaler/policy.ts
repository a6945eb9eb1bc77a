/**
 * The scaling-policy seam. One object per function, fed by whoever observes the function (the live
 * control plane with a real clock, or the simulator with a virtual one) and asked for a desired
 * instance count. Policies never start or stop instances themselves: the caller reconciles
 * `desired` against its instances, removing only idle ones, so a policy cannot lose a request.
 *
 * Time is a plain number of milliseconds on the caller's clock (`performance.now()`, `Date.now()`,
 * or the simulator's virtual time); policies never read a clock of their own.
 */

/**
 * One metric report for the function, as Knative's queue-proxy sends it every second. The caller may
 * report per instance (several samples with the same `at` add up) or the function's aggregate.
 * The object may be reused by the caller after `record` returns: policies copy what they keep.
 */
export interface ConcurrencySample {
  /** End of the sampled period (ms). Samples cover about one second each. */
  at: number;
  /** Time-weighted average in-flight requests over the period (Σ concurrency·Δt / Δt). */
  concurrency: number;
  /** Highest in-flight count seen during the period (≥ concurrency); 0 if unknown → `concurrency` is used. */
  peak: number;
  /** Requests that started during the period. */
  requests: number;
}

/** What the caller knows about the function's instances at decision time. */
export interface ScaleState {
  /** Instances ready to serve (idle or busy). */
  ready: number;
  /** Instances starting (not yet ready); counted so a policy does not ask twice for the same growth. */
  starting: number;
  /** Requests in flight right now (queued at the activator included), when known. */
  inFlight?: number;
}

export interface ScalingDecision {
  /** Desired instance count, already clamped to the policy's minScale/maxScale. */
  desired: number;
  /** KPA panic mode (false for policies without one). */
  panic: boolean;
  /** Short machine-friendly reason for status output, e.g. 'stable', 'panic', 'keep-alive', 'pre-warm'. */
  reason: string;
  /**
   * Absent any new sample or arrival, the decision stays the same until this time (ms; Infinity if
   * never). The live control plane may ignore it and decide every 2 s; the simulator sleeps until
   * then, which is what makes a day of thousands of mostly idle functions cheap.
   */
  wakeAt: number;
  /** Averages the decision used (KPA); for status output. */
  observedStable?: number;
  observedPanic?: number;
  /** Keep-alive policies: until when an idle instance is kept. */
  keepAliveUntil?: number;
  /** Hybrid histogram: when the next pre-warmed instance is wanted. */
  prewarmAt?: number;
}

export interface ScalingPolicy {
  readonly name: string;
  /** A metric sample from the queue-proxies (live) or the simulator's per-second aggregate. */
  record(sample: ConcurrencySample): void;
  /**
   * A request arrived. Live: the activator calls this for every request it proxies, and at the least
   * for a request it buffers while the function is at zero (the "poke"; then call `decide` at once
   * for an immediate scale-from-zero). `inFlight` = requests already in flight before this one.
   */
  onArrival(now: number, inFlight: number): void;
  /** The desired scale now. Cheap and side-effect free apart from the policy's own bookkeeping. */
  decide(now: number, state: ScaleState): ScalingDecision;
}
