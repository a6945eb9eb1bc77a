import { criuUnavailableReason } from '../snapshot/criu.js';
import { probeCriu } from '../snapshot/probe.js';
import { monitorUnavailableReason } from '../reap/monitor.js';

/**
 * Can the snapshot cold-start modes work on this machine? Where they cannot, functions asking for
 * them boot, and the platform says so (start-up log, `hivelab status`, the dashboard, `hivelab
 * coldstart`) with the reason.
 */
export interface SnapshotSupport {
  available: boolean;
  /** Why not (when unavailable). */
  reason?: string;
  /** How CRIU stops its parasite and restorer (src/snapshot/probe.ts). */
  stopMode?: 'syscall-stop' | 'breakpoints';
}

/** The static checks only: CRIU and the REAP monitor built, and root. */
export function snapshotsUnavailableReason(): string | null {
  return criuUnavailableReason() ?? monitorUnavailableReason();
}

/** The static checks, then the bounded CRIU probe (remembered with the build). */
export async function snapshotSupport(): Promise<SnapshotSupport> {
  const why = snapshotsUnavailableReason();
  if (why) return { available: false, reason: why };
  const probe = await probeCriu();
  return probe.ok ? { available: true, stopMode: probe.stopMode } : { available: false, reason: probe.reason, stopMode: probe.stopMode };
}

/** The mode a function gets: its configured one, or `boot` where snapshots cannot work. */
export function effectiveColdStart<M extends string>(configured: M, support: SnapshotSupport): { mode: M | 'boot'; fallback?: string } {
  if (configured === 'boot' || support.available) return { mode: configured };
  return { mode: 'boot', fallback: `${configured} unavailable: ${support.reason}` };
}
