import type { ColdStartMode } from '../manifest/schema.js';
import type { PhaseTiming } from '../observability/semantic.js';
import type { InstanceSpec, SandboxInstance } from '../sandbox/backend.js';
import type { MonitorStats } from '../reap/monitor.js';
import type { SnapshotStats } from './stats.js';

/** What a cold start produced: the instance, the mode actually used, and its figures. */
export interface ColdStart {
  instance: SandboxInstance;
  /** The mode actually used: a snapshot mode falls back to `boot` (no snapshot yet, a failed restore). */
  mode: ColdStartMode;
  phases: PhaseTiming[];
  /** Dashboard figures for the function (absent on a plain boot). */
  stats?: SnapshotStats;
  /** Live figures of the REAP monitor serving the instance's memory (lazy and reap restores). */
  monitorStats?: () => Promise<MonitorStats | undefined>;
}

/** Starts instances in the cold-start mode and version their spec names (`InstanceSpec.coldStart`). */
export interface ColdStarter {
  start(spec: InstanceSpec): Promise<ColdStart>;
}
