/**
 * Turning a desired scale into actions, for the live control plane. Pure, so the rules the simulator
 * assumes (grow by starting instances, shrink by stopping idle ones, least recently used first,
 * never a busy one) hold identically in the platform.
 */

export interface InstanceActivity {
  id: string;
  /** Requests in flight on the instance now. */
  inFlight: number;
  /** When the instance last finished a request (or became ready), ms on the policy's clock. */
  lastUsedAt: number;
}

/** How many instances to start and how many to stop to move from the current counts to `desired`. */
export function scaleDelta(desired: number, ready: number, starting: number): { start: number; stop: number } {
  const have = ready + starting;
  if (desired > have) return { start: desired - have, stop: 0 };
  // Starting instances are not stopped: they were asked for a moment ago and may be needed.
  if (desired < ready) return { start: 0, stop: ready - Math.max(desired, 0) };
  return { start: 0, stop: 0 };
}

/**
 * Up to `count` idle instances to stop, least recently used first (ties by id). Keeping the most
 * recently used ones is what makes fixed keep-alive's peak-count rule equal per-instance keep-alive.
 */
export function pickIdleToStop(instances: readonly InstanceActivity[], count: number): string[] {
  if (count <= 0) return [];
  return instances
    .filter((i) => i.inFlight === 0)
    .sort((a, b) => a.lastUsedAt - b.lastUsedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, count)
    .map((i) => i.id);
}
