import type { AzureFunctionTrace, AzureTrace } from '../azure-trace/types.js';
import type { ScalingSpec } from '../autoscaler/spec.js';
import { Rng } from '../azure-trace/rng.js';
import { resolveScalingConfig, type ScalingConfig } from '../autoscaler/config.js';
import type { ConcurrencySample, ScaleState, ScalingPolicy } from '../autoscaler/policy.js';
import { createPolicy } from '../autoscaler/registry.js';
import { CompletionHeap } from './completion-heap.js';
import { DurationSampler } from './duration-sampler.js';
import { spreadArrivals, type ArrivalSpread } from './arrivals.js';

/**
 * The policy simulator: the same ScalingPolicy objects the live control plane uses, driven on a
 * virtual clock by a trace's invocations.
 *
 * Model (Shahrad et al.'s): every invocation is served at once. An arrival that finds a warm instance
 * with a free slot is warm; otherwise it is a cold start and a new instance is created for it (the
 * activator's scale-from-zero / scale-up; start-up latency is not modelled). The policy only decides
 * how many instances stay alive: its `desired` adds pre-warmed idle instances or reclaims idle ones
 * (least recently used first; busy ones never). Instances of a function are fungible slots:
 * `concurrency` requests per instance.
 *
 * Functions do not interact (no capacity limit), so each is simulated on its own, start to end —
 * cache friendly and without a global event queue. Per function the events are: arrivals (sorted per
 * minute), completions (a heap), one-second metric samples (emitted only for seconds with activity:
 * windows treat missing seconds as zero) and policy decisions (at the policy's `wakeAt`, and at the
 * next 2 s tick after any input). Arrivals and durations come from a generator seeded per function,
 * so every policy sees exactly the same invocations.
 */

export interface SimulationOptions {
  /** Policy name from the autoscaler registry. */
  policy: string;
  /** Scaling overrides as in function.json (seconds), applied to every function. */
  scaling?: Partial<ScalingSpec>;
  /** Requests one instance serves at once (default 1, AWS-style). */
  concurrency?: number;
  arrivals?: ArrivalSpread;
  seed?: number;
  /** For functions without duration percentiles. */
  defaultDurationMs?: number;
  /** For functions without app memory. */
  defaultMemoryMB?: number;
}

export interface SimulationResult {
  policy: string;
  functions: number;
  invocations: number;
  coldStarts: number;
  coldStartPct: number;
  /** GB·s of instances alive but idle. */
  idleMemoryGBs: number;
  /** GB·s of instances serving requests (for the wasted share). */
  busyMemoryGBs: number;
  /** Instances created (cold starts + pre-warms). */
  instanceStarts: number;
  decisions: number;
  simulatedSeconds: number;
  wallSeconds: number;
  /** Instances alive at the start of each minute, summed over functions. */
  instancesPerMinute: Float64Array;
  /** Per function (trace order): invocations and cold starts. */
  perFunctionInvocations: Float64Array;
  perFunctionColdStarts: Float64Array;
}

const MINUTE = 60_000;
const SECOND = 1000;

/** Accumulators shared by the per-function runs. */
interface Totals {
  invocations: number;
  cold: number;
  idleMbMs: number;
  busyMbMs: number;
  starts: number;
  decisions: number;
}

/** Scratch buffers reused across functions. */
class Scratch {
  heap = new CompletionHeap();
  arrivals = new Float64Array(1024);
  sample: ConcurrencySample = { at: 0, concurrency: 0, peak: 0, requests: 0 };
  state: ScaleState = { ready: 0, starting: 0, inFlight: 0 };
  ensure(n: number): Float64Array {
    if (this.arrivals.length < n) this.arrivals = new Float64Array(Math.max(n, this.arrivals.length * 2));
    return this.arrivals;
  }
}

function simulateFunction(
  f: AzureFunctionTrace,
  index: number,
  minutes: number,
  policy: ScalingPolicy,
  cfg: ScalingConfig,
  opts: Required<Pick<SimulationOptions, 'arrivals' | 'seed' | 'defaultDurationMs' | 'defaultMemoryMB'>>,
  scratch: Scratch,
  totals: Totals,
  instancesPerMinute: Float64Array,
): { invocations: number; cold: number } {
  const rng = Rng.derive(opts.seed, index);
  const durations = new DurationSampler(f.duration, opts.defaultDurationMs);
  const memMB = f.memory?.averageMB && f.memory.averageMB > 0 ? f.memory.averageMB : opts.defaultMemoryMB;
  const cc = cfg.concurrency;
  const tick = cfg.tickMs;
  const heap = scratch.heap;
  heap.clear();
  const sample = scratch.sample;
  const state = scratch.state;

  let now = 0;
  let alive = 0;
  let inFlight = 0;
  let busyInst = 0;
  let nextDecide = 0;
  let idleMs = 0; // instance·ms
  let busyMs = 0;
  // current one-second metric period
  let secEnd = SECOND;
  let secIntegral = 0;
  let secPeak = 0;
  let secReq = 0;
  let cold = 0;
  let invocations = 0;
  let starts = 0;
  let decisions = 0;

  const slotsNeeded = (n: number): number => (n <= 0 ? 0 : cc <= 0 ? 1 : Math.ceil(n / cc));
  const tickAfter = (t: number): number => (Math.floor(t / tick) + 1) * tick;

  const advance = (to: number): void => {
    if (to <= now) return;
    idleMs += (alive - busyInst) * (to - now);
    busyMs += busyInst * (to - now);
    while (to >= secEnd) {
      secIntegral += inFlight * (secEnd - now);
      // A request that ended exactly on the boundary leaves secPeak = 1 without any time busy:
      // only seconds with busy time or arrivals are reported.
      if (secIntegral > 0 || secReq > 0) {
        sample.at = secEnd;
        sample.concurrency = secIntegral / SECOND;
        sample.peak = secPeak;
        sample.requests = secReq;
        policy.record(sample);
        const nd = tickAfter(secEnd);
        if (nd < nextDecide) nextDecide = nd;
      }
      now = secEnd;
      secIntegral = 0;
      secPeak = inFlight;
      secReq = 0;
      if (inFlight === 0) {
        // Nothing runs: skip the silent seconds in one step.
        const last = Math.floor(to / SECOND) * SECOND;
        if (last > now) now = last;
        secEnd = now + SECOND;
      } else {
        secEnd += SECOND;
      }
    }
    secIntegral += inFlight * (to - now);
    now = to;
  };

  const decide = (): void => {
    state.ready = alive;
    state.starting = 0;
    state.inFlight = inFlight;
    const d = policy.decide(now, state);
    decisions++;
    if (d.desired > alive) {
      starts += d.desired - alive;
      alive = d.desired;
    } else if (d.desired < alive) {
      alive = Math.max(d.desired, busyInst);
    }
    nextDecide = d.wakeAt > now ? d.wakeAt : now + tick;
  };

  const processUntil = (t: number): void => {
    for (;;) {
      const hc = heap.top();
      if (hc <= nextDecide) {
        if (hc > t) break;
        advance(hc);
        heap.pop();
        inFlight--;
        busyInst = slotsNeeded(inFlight);
      } else {
        if (nextDecide > t) break;
        advance(nextDecide);
        decide();
      }
    }
    advance(t);
  };

  const per = f.perMinute;
  const mins = Math.min(minutes, per.length);
  for (let m = 0; m < mins; m++) {
    const start = m * MINUTE;
    processUntil(start);
    instancesPerMinute[m]! += alive;
    const count = per[m]!;
    if (count <= 0) continue;
    const arr = scratch.ensure(count);
    spreadArrivals(count, start, MINUTE, opts.arrivals, rng, arr);
    for (let j = 0; j < count; j++) {
      const a = arr[j]!;
      processUntil(a);
      policy.onArrival(a, inFlight);
      if (cc <= 0 ? alive === 0 : inFlight >= alive * cc) {
        cold++;
        alive++;
        starts++;
      }
      inFlight++;
      busyInst = slotsNeeded(inFlight);
      secReq++;
      if (inFlight > secPeak) secPeak = inFlight;
      heap.push(a + durations.at(rng.next()));
      const nd = tickAfter(a);
      if (nd < nextDecide) nextDecide = nd;
    }
    invocations += count;
  }
  processUntil(minutes * MINUTE);

  totals.invocations += invocations;
  totals.cold += cold;
  totals.idleMbMs += idleMs * memMB;
  totals.busyMbMs += busyMs * memMB;
  totals.starts += starts;
  totals.decisions += decisions;
  return { invocations, cold };
}

/** Runs one policy over the whole trace. */
export function simulateTrace(trace: AzureTrace, options: SimulationOptions): SimulationResult {
  const t0 = performance.now();
  const opts = {
    arrivals: options.arrivals ?? 'uniform',
    seed: options.seed ?? 1,
    defaultDurationMs: options.defaultDurationMs ?? 1000,
    defaultMemoryMB: options.defaultMemoryMB ?? 128,
  } as const;
  const cfg = resolveScalingConfig({ ...options.scaling, policy: options.policy }, options.concurrency ?? 1);
  // Throws UnknownPolicyError before any work.
  createPolicy(cfg);
  const totals: Totals = { invocations: 0, cold: 0, idleMbMs: 0, busyMbMs: 0, starts: 0, decisions: 0 };
  const instancesPerMinute = new Float64Array(trace.minutes);
  const n = trace.functions.length;
  const perInv = new Float64Array(n);
  const perCold = new Float64Array(n);
  const scratch = new Scratch();
  for (let i = 0; i < n; i++) {
    const r = simulateFunction(trace.functions[i]!, i, trace.minutes, createPolicy(cfg), cfg, opts, scratch, totals, instancesPerMinute);
    perInv[i] = r.invocations;
    perCold[i] = r.cold;
  }
  const MB_MS_PER_GBS = 1024 * 1000;
  return {
    policy: options.policy,
    functions: n,
    invocations: totals.invocations,
    coldStarts: totals.cold,
    coldStartPct: totals.invocations > 0 ? (100 * totals.cold) / totals.invocations : 0,
    idleMemoryGBs: totals.idleMbMs / MB_MS_PER_GBS,
    busyMemoryGBs: totals.busyMbMs / MB_MS_PER_GBS,
    instanceStarts: totals.starts,
    decisions: totals.decisions,
    simulatedSeconds: (trace.minutes * MINUTE) / 1000,
    wallSeconds: (performance.now() - t0) / 1000,
    instancesPerMinute,
    perFunctionInvocations: perInv,
    perFunctionColdStarts: perCold,
  };
}

/** Runs several policies over the same trace (identical arrivals and durations for each). */
export function comparePolicies(trace: AzureTrace, policies: string[], options: Omit<SimulationOptions, 'policy'> = {}): SimulationResult[] {
  return policies.map((policy) => simulateTrace(trace, { ...options, policy }));
}
