import type { RequestRecord } from './client.js';
import { percentile } from './statistics.js';

/**
 * The client's own send lag. A burst's requests are all due at the same instant but leave one after
 * another from one thread, so the k-th request of a burst is necessarily a little later than the
 * first; that spread says nothing about the clock, and each request's latency is measured from its
 * own send time anyway. What would distort results is the *burst start* leaving late — the IATs
 * the target sees would no longer be the ones asked for. So:
 *   - burstStartLag: sent − scheduled of each burst's first request; its p99 is what the run is
 *     judged by (fails above the experiment's maxSendLagP99Ms, default 1 ms);
 *   - requestLag: sent − scheduled of every request (equal to the above when bursts have size 1);
 *   - burstSpread: last send − first send within a burst, reported so big bursts can be judged.
 */
export interface SendLag {
  burstStartP99Ms: number;
  burstStartMaxMs: number;
  requestP99Ms: number;
  burstSpreadP99Ms: number;
}

export function sendLag(records: readonly Pick<RequestRecord, 'burstId' | 'scheduledMs' | 'sentMs'>[]): SendLag {
  const byBurst = new Map<number, { first: number; last: number; scheduled: number }>();
  const lags: number[] = [];
  for (const r of records) {
    lags.push(r.sentMs - r.scheduledMs);
    const b = byBurst.get(r.burstId);
    if (!b) byBurst.set(r.burstId, { first: r.sentMs, last: r.sentMs, scheduled: r.scheduledMs });
    else {
      b.first = Math.min(b.first, r.sentMs);
      b.last = Math.max(b.last, r.sentMs);
    }
  }
  const starts = [...byBurst.values()].map((b) => b.first - b.scheduled).sort((a, b) => a - b);
  const spreads = [...byBurst.values()].map((b) => b.last - b.first).sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  return {
    burstStartP99Ms: percentile(starts, 99),
    burstStartMaxMs: starts.length ? starts[starts.length - 1]! : NaN,
    requestP99Ms: percentile(lags, 99),
    burstSpreadP99Ms: percentile(spreads, 99),
  };
}

const LAG_ADVICE =
  'the client could not keep to the schedule, so the measured IATs and latencies are distorted. ' +
  'Lower the rate, stop other load on this machine, or raise maxSendLagP99Ms.';

/** The short statement of one sub-experiment's excess lag, or undefined when the client kept to the schedule. */
export function sendLagExcess(lag: SendLag, maxP99Ms: number): string | undefined {
  if (!(lag.burstStartP99Ms > maxP99Ms)) return undefined;
  return `burst-start lag p99 ${lag.burstStartP99Ms.toFixed(3)} ms > ${maxP99Ms} ms (max ${lag.burstStartMaxMs.toFixed(3)} ms)`;
}

/** The message to fail the run with, or undefined when the client kept to the schedule. */
export function sendLagViolation(lag: SendLag, maxP99Ms: number): string | undefined {
  const excess = sendLagExcess(lag, maxP99Ms);
  return excess && `client send lag too high: ${excess}: ${LAG_ADVICE}`;
}

/**
 * Several sub-experiments' excess lags as ONE line (each `[i] title: excess`): the advice is the
 * same for all, and nine copies of it would push the results off the top of the page.
 */
export function collapseLagViolations(perSub: readonly string[]): string {
  if (perSub.length === 0) return '';
  return `client send lag too high in ${perSub.length} sub-experiment${perSub.length > 1 ? 's' : ''} (${perSub.join('; ')}): ${LAG_ADVICE}`;
}
