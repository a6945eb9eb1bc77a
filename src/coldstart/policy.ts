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

/** What a version's next cold starts must do, by `<function>/<version>`. */
export class VersionPolicy {
  /** Working sets being recorded. */
  private readonly recording = new Set<string>();
  /** Versions whose next cold start must boot (a monitor died). */
  private readonly bootNext = new Set<string>();

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
