export { NoCapacityError, snapshotKey, feasibleWorkers, type PlacementPolicy, type PlacementRequest, type WorkerView } from './placement.js';
export { leastLoaded, byLeastLoaded } from './least-loaded.js';
export { snapshotAffinity } from './snapshot-affinity.js';
export { getPlacement, placementNames, registerPlacement } from './registry.js';
