import { restoreInstance, type RestoredInstance, type RestoreOptions } from '../snapshot/restore.js';
import { ReapMonitor, type MonitorMode, type MonitorStats } from './monitor.js';
import { criuDeadlineMs, withDeadline } from '../snapshot/deadline.js';
import { statSync } from 'node:fs';

/**
 * A restore whose memory our REAP monitor serves: `lazy` (every page on demand), `record` (on demand,
 * and the first invocation's pages become the working set) or `prefetch` (the working set installed
 * in one go before the instance runs, the rest on demand).
 *
 * The monitor's death is the instance's death: a lazily restored process waits forever for a page
 * nobody will serve, so the moment the helper exits unasked we SIGKILL the instance, and `exitReason`
 * says `monitor-died` (SandboxInstance's ExitReason of the same name).
 */

export interface MonitoredRestoreOptions extends Omit<RestoreOptions, 'lazyPages'> {
  mode: MonitorMode;
  /** The page-map index (src/snapshot/images.ts `writePageMapIndex`). */
  pageMapIndex: string;
  traceFile?: string;
  wsFile?: string;
  filePagesFile?: string;
  /** Called once the monitor listens, before CRIU starts (fault injection in tests, tracing). */
  onMonitor?: (monitor: ReapMonitor) => void;
}

export interface MonitoredInstance extends RestoredInstance {
  monitor: ReapMonitor;
  /** Figures at the end of the restore (prefetch: fetch and install times, pages installed). */
  restoreStats: MonitorStats;
  /** Why the instance ended: `monitor-died` when we killed it because its monitor was gone. */
  exitReason: Promise<'exited' | 'monitor-died'>;
}

export async function restoreWithMonitor(opts: MonitoredRestoreOptions): Promise<MonitoredInstance> {
  const monitor = await ReapMonitor.start({
    mode: opts.mode,
    workDir: opts.workDir,
    pageMapIndex: opts.pageMapIndex,
    imagesDir: opts.imagesDir,
    traceFile: opts.traceFile,
    wsFile: opts.wsFile,
    filePagesFile: opts.filePagesFile,
  });
  opts.onMonitor?.(monitor);
  let restored: RestoredInstance | undefined;
  let monitorDied = false;
  const abortRestore = new AbortController();
  void monitor.exited.then(({ expected }) => {
    if (expected) return;
    monitorDied = true;
    if (restored) restored.kill();
    else abortRestore.abort(); // mid-restore: CRIU would wait forever, kill it and its tasks
  });
  try {
    restored = await restoreInstance({ ...opts, lazyPages: true, signal: abortRestore.signal });
  } catch (err) {
    await monitor.stop();
    if (monitorDied) throw new Error(`REAP monitor died during the restore: ${(err as Error).message}`);
    throw err;
  }
  if (monitorDied) restored.kill(); // it died while CRIU was finishing
  monitor.watch(restored.pid);
  const instance = restored;
  const exitReason = instance.exited.then(async () => {
    await monitor.stop();
    return monitorDied ? ('monitor-died' as const) : ('exited' as const);
  });
  let restoreStats: MonitorStats;
  try {
    // Bounded and sized to what the monitor may still read (the working set, on prefetch).
    const wsBytes = opts.wsFile && opts.mode === 'prefetch' ? (statSync(opts.wsFile, { throwIfNoEntry: false })?.size ?? 0) : 0;
    restoreStats = await withDeadline(monitor.restored(), 'monitor restore', criuDeadlineMs(wsBytes), () => {
      instance.kill();
      monitor.kill();
    });
  } catch (err) {
    instance.kill();
    await monitor.stop();
    throw new Error(`REAP monitor failed during the restore: ${(err as Error).message}`);
  }
  return { ...instance, monitor, restoreStats, exitReason };
}
