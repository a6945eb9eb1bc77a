import type { HopStamp } from './client.js';

/**
 * Per-hop transfer latency in a chain (thesis §3.5.3): from the moment the producer starts handing
 * over its output (before the storage put or the invocation) to the moment the consumer holds it
 * (after the get). bench-spin returns `{hops: [first, second, …]}` with each hop's stamps.
 */
export function parseHops(body: Buffer | undefined): HopStamp[] {
  if (!body || body.length === 0) return [];
  try {
    const v = JSON.parse(body.toString('utf8')) as { hops?: unknown };
    if (!Array.isArray(v.hops)) return [];
    return v.hops.filter((h): h is HopStamp => typeof h === 'object' && h !== null && typeof (h as HopStamp).receivedAtMs === 'number');
  } catch {
    return [];
  }
}

/** Transfer ms for hops 1…n−1 (index i = transfer into hop i+1); NaN where a stamp is missing. */
export function hopTransfersMs(hops: readonly HopStamp[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < hops.length; i++) {
    const start = hops[i - 1]!.transferStartAtMs;
    out.push(start === undefined ? NaN : hops[i]!.receivedAtMs - start);
  }
  return out;
}
