import type { AzureFunctionTrace, AzureTrace, DurationPercentiles, MemoryPercentiles } from '../../azure-trace/types.js';
import { exponential, seededRng, type Rng } from '../rng.js';

/**
 * The trace-driven load plan (In-Vitro's loader): sample N functions of an Azure Functions 2019
 * trace, and for the first M minutes turn each function's per-minute invocation counts into
 * arrival times, each with an execution time and a memory footprint drawn from that function's
 * published percentiles. Pure and seeded: the same trace, options and seed give the same plan.
 */
export const WITHIN_MINUTE_IATS = ['exponential', 'uniform', 'equidistant'] as const;
export type WithinMinuteIat = (typeof WITHIN_MINUTE_IATS)[number];

export interface ReplayOptions {
  sample: number;
  minutes: number;
  iat: WithinMinuteIat;
  seed: number;
  /** Cap on a drawn execution time: a 2-core machine cannot replay hour-long functions. */
  maxDurationMs: number;
  /** Memory a synthetic function is deployed with when the trace has none for its app. */
  defaultMemoryMB: number;
}

export const DEFAULT_REPLAY_OPTIONS: ReplayOptions = { sample: 10, minutes: 10, iat: 'exponential', seed: 1, maxDurationMs: 10_000, defaultMemoryMB: 128 };

export interface ReplayFunction {
  index: number;
  hashApp: string;
  hashFunction: string;
  trigger: string;
  /** Deployed memory limit: the app's p100 allocated memory plus the runtime's own, rounded up. */
  memoryMB: number;
  /** The replayed minutes' counts, exactly as in the trace. */
  perMinute: number[];
  duration: DurationPercentiles;
  memory?: MemoryPercentiles;
}

export interface ReplayInvocation {
  id: number;
  fn: number;
  /** ms after the replay's start. */
  scheduledMs: number;
  requestedDurationMs: number;
  /** Memory the synthetic function touches during this invocation, MB. */
  allocMB: number;
}

export interface ReplayPlan {
  functions: ReplayFunction[];
  invocations: ReplayInvocation[];
  minutes: number;
  iat: WithinMinuteIat;
}

/**
 * Inverse CDF through percentile points (p in 0–100 → value), piecewise linear between them;
 * below the first point it returns the first value, above the last the last.
 */
export function fromPercentiles(points: readonly [number, number][], u: number): number {
  const p = u * 100;
  if (p <= points[0]![0]) return points[0]![1];
  for (let i = 1; i < points.length; i++) {
    const [p1, v1] = points[i]!;
    const [p0, v0] = points[i - 1]!;
    if (p <= p1) return p1 === p0 ? v1 : v0 + ((p - p0) / (p1 - p0)) * (v1 - v0);
  }
  return points[points.length - 1]![1];
}

export function durationPoints(d: DurationPercentiles): [number, number][] {
  return Object.entries(d.percentilesMs)
    .map(([k, v]) => [Number(k), v] as [number, number])
    .filter(([p, v]) => Number.isFinite(p) && Number.isFinite(v))
    .sort((a, b) => a[0] - b[0]);
}

export function memoryPoints(m: MemoryPercentiles): [number, number][] {
  return Object.entries(m.percentilesMB)
    .map(([k, v]) => [Number(k), v] as [number, number])
    .filter(([p, v]) => Number.isFinite(p) && Number.isFinite(v))
    .sort((a, b) => a[0] - b[0]);
}

/**
 * Offsets (ms, within [0, 60000)) of `count` arrivals in one minute.
 * - equidistant: i·60 s / count.
 * - uniform: count independent uniform times, sorted.
 * - exponential: exponential IATs with mean 60 s / count, rescaled so count + 1 gaps fill the minute
 *   (as In-Vitro does). Note: normalised exponential spacings are distributed like sorted uniforms,
 *   so this matches `uniform` in distribution; both are the Poisson process conditioned on the count.
 */
export function arrivalsInMinute(count: number, iat: WithinMinuteIat, rng: Rng): number[] {
  if (count <= 0) return [];
  const MIN = 60_000;
  switch (iat) {
    case 'equidistant':
      return Array.from({ length: count }, (_, i) => (i * MIN) / count);
    case 'uniform':
      return Array.from({ length: count }, () => rng() * MIN).sort((a, b) => a - b);
    case 'exponential': {
      const gaps = Array.from({ length: count + 1 }, () => exponential(rng, MIN / count));
      const total = gaps.reduce((a, b) => a + b, 0);
      const out: number[] = [];
      let t = 0;
      for (let i = 0; i < count; i++) out.push((t += (gaps[i]! / total) * MIN));
      return out;
    }
  }
}

/** Seeded sample of n items without replacement (partial Fisher–Yates), in their original order. */
export function sampleWithoutReplacement<T>(items: readonly T[], n: number, rng: Rng): T[] {
  const idx = items.map((_, i) => i);
  const k = Math.min(n, idx.length);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (idx.length - i));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx
    .slice(0, k)
    .sort((a, b) => a - b)
    .map((i) => items[i]!);
}

const RUNTIME_BASE_MB = 64;

/** Deployed memory: the app's peak allocated memory plus the runtime's, in 32 MB steps, ≥ 128 MB. */
export function deployMemoryMB(m: MemoryPercentiles | undefined, fallback: number): number {
  if (!m) return fallback;
  const peak = m.percentilesMB['100'] ?? Math.max(...Object.values(m.percentilesMB));
  return Math.min(16384, Math.max(128, Math.ceil((peak + RUNTIME_BASE_MB) / 32) * 32));
}

/**
 * Functions eligible for replay: with duration percentiles (needed to synthesise execution) and
 * at least one invocation in the replayed minutes (an idle function would only cost a deploy).
 */
export function eligibleFunctions(trace: AzureTrace, minutes: number): AzureFunctionTrace[] {
  return trace.functions.filter((f) => f.duration && f.perMinute.slice(0, minutes).some((c) => c > 0));
}

export function planReplay(trace: AzureTrace, options: Partial<ReplayOptions> = {}): ReplayPlan {
  const o = { ...DEFAULT_REPLAY_OPTIONS, ...options };
  if (!Number.isInteger(o.sample) || o.sample < 1) throw new Error(`sample: must be an integer ≥ 1, got ${o.sample}`);
  if (!Number.isInteger(o.minutes) || o.minutes < 1) throw new Error(`minutes: must be an integer ≥ 1, got ${o.minutes}`);
  if (o.minutes > trace.minutes) throw new Error(`minutes: the trace has ${trace.minutes} minutes, asked for ${o.minutes}`);
  const eligible = eligibleFunctions(trace, o.minutes);
  if (eligible.length === 0) throw new Error(`no function of trace ${trace.day} has duration percentiles and invocations in the first ${o.minutes} minutes`);
  const rng = seededRng(o.seed);
  const chosen = sampleWithoutReplacement(eligible, o.sample, rng);
  const functions: ReplayFunction[] = chosen.map((f, index) => ({
    index,
    hashApp: f.hashApp,
    hashFunction: f.hashFunction,
    trigger: f.trigger,
    memoryMB: deployMemoryMB(f.memory, o.defaultMemoryMB),
    perMinute: f.perMinute.slice(0, o.minutes),
    duration: f.duration!,
    memory: f.memory,
  }));
  const invocations: Omit<ReplayInvocation, 'id'>[] = [];
  for (const f of functions) {
    const dPoints = durationPoints(f.duration);
    const mPoints = f.memory ? memoryPoints(f.memory) : undefined;
    f.perMinute.forEach((count, minute) => {
      for (const offset of arrivalsInMinute(count, o.iat, rng)) {
        invocations.push({
          fn: f.index,
          scheduledMs: minute * 60_000 + offset,
          requestedDurationMs: Math.min(o.maxDurationMs, Math.max(0, fromPercentiles(dPoints, rng()))),
          allocMB: mPoints ? Math.max(0, fromPercentiles(mPoints, rng()) - RUNTIME_BASE_MB) : 0,
        });
      }
    });
  }
  invocations.sort((a, b) => a.scheduledMs - b.scheduledMs || a.fn - b.fn);
  return { functions, invocations: invocations.map((inv, id) => ({ id, ...inv })), minutes: o.minutes, iat: o.iat };
}
