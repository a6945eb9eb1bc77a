import { feasibleWorkers, type PlacementRequest, type WorkerView } from './placement.js';

/** Share of the worker's memory budget already committed (0..1). */
function load(w: WorkerView): number {
  return w.memoryBudgetMB > 0 ? w.memoryCommittedMB / w.memoryBudgetMB : 1;
}

/**
 * Orders workers by committed memory share, then instance count, then id (deterministic ties).
 * Exported so other policies can fall back to the same order.
 */
export function byLeastLoaded(a: WorkerView, b: WorkerView): number {
  return load(a) - load(b) || a.instances - b.instances || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Default: the live worker with room whose memory budget is least committed. */
export function leastLoaded(req: PlacementRequest): string {
  const fit = feasibleWorkers(req);
  return fit.reduce((best, w) => (byLeastLoaded(w, best) < 0 ? w : best)).id;
}
