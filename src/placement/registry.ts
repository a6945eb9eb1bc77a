import type { PlacementPolicy } from './placement.js';
import { leastLoaded } from './least-loaded.js';
import { snapshotAffinity } from './snapshot-affinity.js';

/** Placement policy name → function. A new policy: one file, one line here. */
const PLACEMENTS = new Map<string, PlacementPolicy>([
  ['least-loaded', leastLoaded],
  ['snapshot-affinity', snapshotAffinity],
]);

export function placementNames(): string[] {
  return [...PLACEMENTS.keys()];
}

export function registerPlacement(name: string, policy: PlacementPolicy): void {
  PLACEMENTS.set(name, policy);
}

export function getPlacement(name = 'least-loaded'): PlacementPolicy {
  const p = PLACEMENTS.get(name);
  if (!p) throw new Error(`unknown placement policy "${name}" (known: ${placementNames().join(', ')})`);
  return p;
}
