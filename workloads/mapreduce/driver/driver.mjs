import { createHash } from 'node:crypto';

/**
 * The Aggregation Query (SELECT SUBSTR(sourceIP,1,8), SUM(adRevenue) FROM uservisits GROUP BY 1)
 * as 40 mappers and 10 reducers (thesis §6.5.5). The transport of the shuffle is the event's
 * `transfer`; only references travel through the invocations.
 *
 * event: {transfer, seed=1, mappers=40, reducers=10, rowsPerMapper=20000}
 * → {groups, totalCents, digest (sha256 of the sorted result), top, shuffleBytes, timings}
 * timings: e2eMs; transferMs = the critical path's transfer time (slowest mapper put + slowest
 * reducer get); per stage the slowest and summed put/get/compute times.
 */
export async function handler(event, context) {
  const transfer = event.transfer ?? 'xdt';
  const seed = event.seed ?? 1;
  const mappers = event.mappers ?? 40;
  const reducers = event.reducers ?? 10;
  const rows = event.rowsPerMapper ?? 20_000;
  const t0 = performance.now();
  const mapped = await Promise.all(
    Array.from({ length: mappers }, (_, shard) => context.invoke('mr-mapper', { seed, shard, rows, reducers, transfer })),
  );
  const t1 = performance.now();
  const reduced = await Promise.all(
    Array.from({ length: reducers }, (_, r) => context.invoke('mr-reducer', { refs: mapped.map((m) => m.refs[r]) })),
  );
  const t2 = performance.now();
  const groups = reduced.flatMap((r) => r.groups).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const totalCents = groups.reduce((n, g) => n + g[1], 0);
  const digest = createHash('sha256').update(JSON.stringify(groups)).digest('hex');
  const top = [...groups].sort((a, b) => b[1] - a[1]).slice(0, 5);
  const max = (xs) => Math.max(0, ...xs);
  const sum = (xs) => xs.reduce((n, x) => n + x, 0);
  const mapPut = mapped.map((m) => m.timings.putMs);
  const redGet = reduced.map((r) => r.timings.getMs);
  return {
    transfer,
    groups: groups.length,
    totalCents,
    digest,
    top,
    shuffleBytes: sum(reduced.map((r) => r.bytes)),
    timings: {
      e2eMs: t2 - t0,
      transferMs: max(mapPut) + max(redGet),
      mapStageMs: t1 - t0,
      reduceStageMs: t2 - t1,
      mapper: { putMaxMs: max(mapPut), putSumMs: sum(mapPut), computeMaxMs: max(mapped.map((m) => m.timings.computeMs)) },
      reducer: { getMaxMs: max(redGet), getSumMs: sum(redGet), computeMaxMs: max(reduced.map((r) => r.timings.computeMs)) },
    },
  };
}
