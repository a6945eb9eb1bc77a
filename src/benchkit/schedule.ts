import type { IatType, SubExperiment } from './experiment.js';
import { exponential, seededRng, type Rng } from './rng.js';
import { isStellarIat, stellarRoundDelays } from './stellar/iat.js';

/**
 * Inter-arrival times (IATs) between bursts, in seconds. There are `bursts − 1` of them; the first
 * burst goes at t = 0.
 *
 * - fixed: every IAT is `iatSeconds` (STeLLAR's short/long IAT experiments).
 * - exponential: Poisson arrivals with mean `iatSeconds` (coefficient of variation 1).
 * - shifted-exponential: `shift + Exp(iatSeconds − shift)`, so the mean is still `iatSeconds` but no
 *   two bursts come closer than `shift` (default iatSeconds / 2) — random yet never back-to-back.
 * - step: the i-th IAT (i = 1…) is `i × iatSeconds`, a staircase of growing idle periods; used to find
 *   a provider's keep-alive (the first step after which responses turn cold).
 */
export function interArrivalTimes(iatType: IatType, iatSeconds: number, count: number, rng: Rng, shiftSeconds?: number): number[] {
  const out: number[] = [];
  const shift = shiftSeconds ?? iatSeconds / 2;
  for (let i = 1; i <= count; i++) {
    switch (iatType) {
      case 'fixed':
        out.push(iatSeconds);
        break;
      case 'exponential':
        out.push(exponential(rng, iatSeconds));
        break;
      case 'shifted-exponential':
        out.push(shift + exponential(rng, Math.max(0, iatSeconds - shift)));
        break;
      case 'step':
        out.push(i * iatSeconds);
        break;
      default:
        throw new Error(`${iatType}: a STeLLAR IAT type, scheduled by stellarBurstSchedule`);
    }
  }
  return out;
}

export interface Burst {
  id: number;
  /** Scheduled start, ms after the run's start. */
  atMs: number;
  size: number;
  /** Which replica (identical function copy) the whole burst goes to: round-robin over bursts. */
  replica: number;
  /** STeLLAR schedules: the round (one burst per replica) this burst belongs to. */
  round?: number;
}

export interface PlannedRequest {
  id: number;
  burstId: number;
  /** ms after the run's start; every request of a burst shares its burst's time. */
  scheduledMs: number;
  replica: number;
  serviceTimeMs: number;
}

/** Burst times for a sub-experiment: sizes cycle through burstSizes, replicas are taken round-robin. */
export function burstSchedule(s: Pick<SubExperiment, 'bursts' | 'burstSizes' | 'iatSeconds' | 'iatType' | 'iatShiftSeconds' | 'replicas' | 'seed'>): Burst[] {
  if (isStellarIat(s.iatType)) return stellarBurstSchedule(s);
  const iats = interArrivalTimes(s.iatType, s.iatSeconds, s.bursts - 1, seededRng(s.seed), s.iatShiftSeconds);
  const bursts: Burst[] = [];
  let t = 0;
  for (let k = 0; k < s.bursts; k++) {
    if (k > 0) t += iats[k - 1]! * 1000;
    bursts.push({ id: k, atMs: t, size: s.burstSizes[k % s.burstSizes.length]!, replica: k % s.replicas });
  }
  return bursts;
}

/**
 * Every measured request of a sub-experiment in send order (warm-up requests are not planned here:
 * the runner sends them closed-loop before the schedule starts, so the first burst finds them done).
 */
export function planRequests(s: Pick<SubExperiment, 'bursts' | 'burstSizes' | 'iatSeconds' | 'iatType' | 'iatShiftSeconds' | 'replicas' | 'seed' | 'serviceTimes'>): PlannedRequest[] {
  const out: PlannedRequest[] = [];
  let id = 0;
  for (const b of burstSchedule(s)) {
    for (let i = 0; i < b.size; i++) {
      // STeLLAR: round k's requests all spin for DesiredServiceTimes[min(k, len − 1)].
      const st = b.round !== undefined ? s.serviceTimes[Math.min(b.round, s.serviceTimes.length - 1)]! : s.serviceTimes[id % s.serviceTimes.length]!;
      out.push({ id, burstId: b.id, scheduledMs: b.atMs, replica: b.replica, serviceTimeMs: st });
      id++;
    }
  }
  return out;
}

/**
 * STeLLAR's run loop (src/benchmarking/run.go): round k first sleeps its delay (the first round
 * too), then sends one burst to each replica; every burst of round k has size burstSizes[k % len];
 * rounds go on until `bursts` bursts were sent. STeLLAR waits for each burst before the next
 * replica's; here a round's bursts leave together (open loop), which only matters when a burst
 * takes longer than nothing.
 */
export function stellarBurstSchedule(s: Pick<SubExperiment, 'bursts' | 'burstSizes' | 'iatSeconds' | 'iatType' | 'replicas' | 'seed'>): Burst[] {
  const rounds = Math.ceil(s.bursts / s.replicas);
  if (!isStellarIat(s.iatType)) throw new Error(`stellarBurstSchedule: ${s.iatType} is not a STeLLAR IAT type`);
  const delays = stellarRoundDelays(s.iatType, s.iatSeconds, rounds, seededRng(s.seed));
  const out: Burst[] = [];
  let t = 0;
  for (let k = 0; k < rounds; k++) {
    t += delays[k]!;
    for (let r = 0; r < s.replicas && out.length < s.bursts; r++) {
      out.push({ id: out.length, atMs: t, size: s.burstSizes[k % s.burstSizes.length]!, replica: r, round: k });
    }
  }
  return out;
}
