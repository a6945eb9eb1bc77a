/**
 * Placement: which worker gets a new instance. Policies are pure functions of a snapshot of the
 * fleet, so the control plane can call them under its own lock and tests can hand-build fleets.
 */

export interface WorkerView {
  id: string;
  memoryBudgetMB: number;
  /** Memory promised to instances already placed (running or starting). */
  memoryCommittedMB: number;
  instances: number;
  alive: boolean;
  /** Keys `name@version` of the function snapshots this worker holds on local disk. */
  snapshots: Set<string>;
}

export interface PlacementRequest {
  workers: readonly WorkerView[];
  function: { name: string; version: string; memoryMB: number };
}

/** No live worker has room for the instance; the caller answers 503 with this message. */
export class NoCapacityError extends Error {
  constructor(
    readonly functionName: string,
    readonly memoryMB: number,
    readonly reason: string,
  ) {
    super(`no worker can place an instance of ${functionName} (${memoryMB} MB): ${reason}`);
    this.name = 'NoCapacityError';
  }
}

export type PlacementPolicy = (req: PlacementRequest) => string;

/** The snapshot key a worker advertises for one function version. */
export function snapshotKey(name: string, version: string): string {
  return `${name}@${version}`;
}

/** Live workers with enough uncommitted memory; throws NoCapacityError naming why none qualifies. */
export function feasibleWorkers(req: PlacementRequest): WorkerView[] {
  const alive = req.workers.filter((w) => w.alive);
  if (alive.length === 0) {
    throw new NoCapacityError(req.function.name, req.function.memoryMB, req.workers.length === 0 ? 'no workers' : 'no live workers');
  }
  const fit = alive.filter((w) => w.memoryBudgetMB - w.memoryCommittedMB >= req.function.memoryMB);
  if (fit.length === 0) {
    const most = Math.max(...alive.map((w) => w.memoryBudgetMB - w.memoryCommittedMB));
    throw new NoCapacityError(req.function.name, req.function.memoryMB, `largest free memory on a live worker is ${most} MB`);
  }
  return fit;
}
