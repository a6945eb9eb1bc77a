import { describe, expect, it } from 'vitest';
import { leastLoaded } from '../../src/placement/least-loaded.js';
import { snapshotAffinity } from '../../src/placement/snapshot-affinity.js';
import { getPlacement, NoCapacityError, type WorkerView } from '../../src/placement/index.js';

const w = (id: string, budget: number, committed: number, instances: number, snaps: string[] = [], alive = true): WorkerView => ({
  id,
  memoryBudgetMB: budget,
  memoryCommittedMB: committed,
  instances,
  alive,
  snapshots: new Set(snaps),
});
const fn = { name: 'thumb', version: 'v1', memoryMB: 256 };

describe('placement', () => {
  it('least-loaded picks the smallest committed share, then fewer instances, then id', () => {
    // a: 50 %, b: 25 % of a larger budget, c: 25 % with fewer instances
    const workers = [w('a', 2048, 1024, 2), w('b', 4096, 1024, 4), w('c', 4096, 1024, 3)];
    expect(leastLoaded({ workers, function: fn })).toBe('c');
    expect(leastLoaded({ workers: [w('y', 1024, 0, 0), w('x', 1024, 0, 0)], function: fn })).toBe('x');
  });

  it('skips dead workers and workers without room', () => {
    const workers = [w('dead', 4096, 0, 0, [], false), w('full', 1024, 900, 1), w('ok', 1024, 512, 2)];
    expect(leastLoaded({ workers, function: fn })).toBe('ok');
  });

  it('throws a typed no-capacity error naming the function and the reason', () => {
    const full = () => leastLoaded({ workers: [w('a', 1024, 900, 1), w('b', 1024, 1000, 1)], function: fn });
    expect(full).toThrow(NoCapacityError);
    expect(full).toThrow('no worker can place an instance of thumb (256 MB): largest free memory on a live worker is 124 MB');
    expect(() => leastLoaded({ workers: [w('a', 1024, 0, 0, [], false)], function: fn })).toThrow(/no live workers/);
    expect(() => leastLoaded({ workers: [], function: fn })).toThrow(/no workers/);
  });

  it('snapshot-affinity prefers a holder of name@version even if busier, else least-loaded', () => {
    const workers = [w('a', 4096, 0, 0), w('b', 4096, 2048, 5, ['thumb@v1']), w('c', 4096, 3072, 6, ['thumb@v1', 'x@v2'])];
    expect(snapshotAffinity({ workers, function: fn })).toBe('b');
    expect(snapshotAffinity({ workers, function: { ...fn, version: 'v2' } })).toBe('a');
    // the holder has no room → fall back to least-loaded
    const tight = [w('a', 4096, 0, 0), w('b', 1024, 900, 1, ['thumb@v1'])];
    expect(getPlacement('snapshot-affinity')({ workers: tight, function: fn })).toBe('a');
    expect(() => getPlacement('nope')).toThrow(/unknown placement policy "nope"/);
  });
});
