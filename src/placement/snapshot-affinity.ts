import { feasibleWorkers, snapshotKey, type PlacementRequest } from './placement.js';
import { byLeastLoaded } from './least-loaded.js';

/**
 * Prefer a worker that already holds the function's snapshot (a restore from local disk instead of
 * a boot or a copy), least loaded among those; otherwise the least-loaded worker overall.
 */
export function snapshotAffinity(req: PlacementRequest): string {
  const fit = feasibleWorkers(req);
  const key = snapshotKey(req.function.name, req.function.version);
  const holders = fit.filter((w) => w.snapshots.has(key));
  const pool = holders.length > 0 ? holders : fit;
  return pool.reduce((best, w) => (byLeastLoaded(w, best) < 0 ? w : best)).id;
}
