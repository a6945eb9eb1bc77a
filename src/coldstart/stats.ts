/**
 * The cold-start figures the dashboard shows per function: the snapshot of its current version and
 * how its restores went. Owned here, where they are counted; the dashboard and the control plane
 * only carry them.
 */

/** Snapshot and working-set figures of a function's current version (all optional: modes differ). */
export interface SnapshotStats {
  /** Size of the snapshot image on disk. */
  snapshotBytes?: number;
  /** Guest/process memory captured in the snapshot. */
  memoryBytes?: number;
  /** Working set recorded by REAP's record phase. */
  workingSetBytes?: number;
  workingSetPages?: number;
  /** Over the function's restores so far: pages installed by prefetch vs faulted in on demand. */
  pagesPrefetched?: number;
  pagesOnDemand?: number;
  restores?: number;
  lastRestoreMs?: number;
}

interface VersionCounters {
  restores: number;
  prefetched: number;
  onDemand: number;
}

/** Per `<function>/<version>`: restores, prefetched and on-demand pages since this worker started. */
export class RestoreCounters {
  private readonly byVersion = new Map<string, VersionCounters>();

  /** Counts one restore and returns the version's totals. */
  add(key: string, pages: { prefetched?: number; onDemand?: number }): Readonly<VersionCounters> {
    const c = this.byVersion.get(key) ?? { restores: 0, prefetched: 0, onDemand: 0 };
    c.restores++;
    c.prefetched += pages.prefetched ?? 0;
    c.onDemand += pages.onDemand ?? 0;
    this.byVersion.set(key, c);
    return c;
  }
}
