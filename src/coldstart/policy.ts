import type { ColdStartMode } from '../manifest/schema.js';
import type { MonitorMode, MonitorStats } from '../reap/monitor.js';

/**
 * The cold-start decisions: which way a start of a function version goes, and REAP's policy for its
 * working set (thesis ch. 5). Pure functions over the version's state, plus that state.
 */

export type SnapshotMode = Exclude<ColdStartMode, 'boot'>;

/** Thesis 5.4.1: more on-demand faults than this share of the working set is a misprediction. */
export const MISPREDICTION_RATIO = 0.3;

/**
 * How the REAP monitor serves a restore: `lazy` mode always lazily; `reap` prefetches a recorded
 * working set, records one when there is none, and serves lazily while another start records.
 */
export function monitorModeFor(mode: 'lazy' | 'reap', v: { hasWorkingSet: boolean; recording: boolean }): MonitorMode {
  if (mode === 'lazy') return 'lazy';
  if (v.hasWorkingSet) return 'prefetch';
  return v.recording ? 'lazy' : 'record';
}

/** True when a prefetched instance faulted in too much outside its working set: record again. */
export function isMisprediction(s: Pick<MonitorStats, 'wsPages' | 'onDemand'>): boolean {
  return s.wsPages > 0 && s.onDemand > MISPREDICTION_RATIO * s.wsPages;
}

/**
 * Failed restores in a row after which a version's snapshot is taken anew: it may hold a state no
 * restore survives (a program that dies once restored, a socket it cannot lose), and every cold
 * start would otherwise pay a restore, its failure and a boot.
 */
export const RESTORE_FAILURES_TO_RESNAPSHOT = 3;
/** How often a version's snapshot is taken anew for failed restores before the version only boots. */
export const RESNAPSHOTS_BEFORE_BOOT_ONLY = 1;

export type AfterRestoreFailure = 'retry' | 'resnapshot' | 'boot-only';

/** Pure: what follows a version's `inRow`-th failed restore in a row, its snapshot taken anew `resnapshots` times already. */
export function afterRestoreFailure(inRow: number, resnapshots: number): AfterRestoreFailure {
  if (inRow < RESTORE_FAILURES_TO_RESNAPSHOT) return 'retry';
  return resnapshots < RESNAPSHOTS_BEFORE_BOOT_ONLY ? 'resnapshot' : 'boot-only';
}

/** What a version's next cold starts must do, by `<function>/<version>`. */
export class VersionPolicy {
  /** Working sets being recorded. */
  private readonly recording = new Set<string>();
  /** Versions whose next cold start must boot (a monitor died). */
  private readonly bootNext = new Set<string>();
  /** Failed restores in a row, snapshots taken anew for them, and why a version only boots now. */
  private readonly failures = new Map<string, { inRow: number; resnapshots: number; bootOnly?: string }>();

  /** Counts a failed restore; says whether to retry, take the snapshot anew, or boot from now on. */
  restoreFailed(key: string, why: string): AfterRestoreFailure {
    const f = this.failures.get(key) ?? { inRow: 0, resnapshots: 0 };
    f.inRow++;
    const next = afterRestoreFailure(f.inRow, f.resnapshots);
    if (next === 'resnapshot') {
      f.resnapshots++;
      f.inRow = 0;
    } else if (next === 'boot-only') f.bootOnly = why;
    this.failures.set(key, f);
    return next;
  }

  restoreSucceeded(key: string): void {
    const f = this.failures.get(key);
    if (f) f.inRow = 0;
  }

  /** Why this version only boots (its restores kept failing), or undefined. */
  bootOnly(key: string): string | undefined {
    return this.failures.get(key)?.bootOnly;
  }

  /** True once after a monitor death: this start boots. */
  takeBootNext(key: string): boolean {
    return this.bootNext.delete(key);
  }

  markBootNext(key: string): void {
    this.bootNext.add(key);
  }

  /** Picks the monitor mode of a restore and, for `record`, claims the record phase. */
  claimMonitorMode(key: string, mode: 'lazy' | 'reap', hasWorkingSet: boolean): MonitorMode {
    const m = monitorModeFor(mode, { hasWorkingSet, recording: this.recording.has(key) });
    if (m === 'record') this.recording.add(key);
    return m;
  }

  releaseRecording(key: string): void {
    this.recording.delete(key);
  }
}
