import { groupKey, partitionOf, uservisits } from './weblog.mjs';

/**
 * event: {seed, shard, rows, reducers, transfer} → {refs: one reference per reducer, timings}.
 * The map output is not combined: every row's (key, revenue) pair is shuffled, as in the thesis's
 * setup where the shuffle of many small files dominates.
 */
export async function handler(event, context) {
  const t0 = performance.now();
  const parts = Array.from({ length: event.reducers }, () => []);
  for (const [ip, cents] of uservisits(event.seed, event.shard, event.rows)) {
    const key = groupKey(ip);
    parts[partitionOf(key, event.reducers)].push(`${key}\t${cents}`);
  }
  const t1 = performance.now();
  const refs = await Promise.all(parts.map((lines) => context.put(Buffer.from(lines.join('\n')), { transfer: event.transfer, retrievals: 1 })));
  const t2 = performance.now();
  return { refs, timings: { computeMs: t1 - t0, putMs: t2 - t1 } };
}
