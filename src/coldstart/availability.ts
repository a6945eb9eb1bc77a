import { criuUnavailableReason } from '../snapshot/criu.js';
import { monitorUnavailableReason } from '../reap/monitor.js';

/** Why the snapshot cold-start modes cannot work on this machine, or null when they can. */
export function snapshotsUnavailableReason(): string | null {
  return criuUnavailableReason() ?? monitorUnavailableReason();
}
