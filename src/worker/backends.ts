import { join } from 'node:path';
import type { InstanceSpec, SandboxBackend, SandboxInstance } from '../sandbox/backend.js';
import type { ColdStartMode } from '../manifest/schema.js';
import type { WorkerConfig, WorkerEvent } from './protocol.js';
import { ProcessBackend } from '../sandbox/process-backend.js';
import { SnapshotBackend, type SnapshotStart } from '../sandbox/snapshot-backend.js';
import { criuUnavailableReason } from '../snapshot/criu.js';
import { monitorUnavailableReason } from '../reap/monitor.js';
import { SpanNames } from '../observability/semantic.js';

/**
 * The worker's backend: boots (bubblewrap) by default and routes the snapshot cold-start modes
 * (snapshot, lazy, reap, criu-lazy) to the snapshot backend where CRIU and the REAP monitor are
 * built; where they are not, those modes boot and the first such start logs why.
 */
export class WorkerBackend implements SandboxBackend {
  readonly name = 'worker';
  private warned = false;

  constructor(
    readonly boot: SandboxBackend,
    readonly snapshot: SnapshotBackend | undefined,
    private readonly snapshotUnavailable: string | undefined,
    private readonly log: (level: 'info' | 'warn' | 'error', msg: string) => void,
  ) {}

  start(spec: InstanceSpec): Promise<SandboxInstance> {
    return this.boot.start(spec);
  }

  /** Starts with the requested cold-start mode; `mode` in the result is the one actually used. */
  async startFor(spec: InstanceSpec, coldStart: ColdStartMode, version: string): Promise<SnapshotStart> {
    if (coldStart !== 'boot') {
      if (this.snapshot) return this.snapshot.startWith(spec, coldStart, version);
      if (!this.warned) this.log('warn', `cold-start mode ${coldStart} unavailable, booting instead: ${this.snapshotUnavailable}`);
      this.warned = true;
    }
    const t0 = Date.now();
    const instance = await this.boot.start(spec);
    return { instance, mode: 'boot', phases: instance.phases ?? [{ name: SpanNames.sandboxStart, startEpochMs: t0, endEpochMs: Date.now() }] };
  }
}

function workerLog(level: 'info' | 'warn' | 'error', message: string): void {
  const event: WorkerEvent = { event: 'log', level, message };
  if (process.send && process.connected) process.send(event);
  else process.stderr.write(`hivelab worker [${level}]: ${message}\n`);
}

/** Builds the worker's sandbox backend (boot, plus snapshots where CRIU works). */
export async function createSandboxBackend(config: WorkerConfig): Promise<WorkerBackend> {
  const boot = new ProcessBackend({
    runtimeDir: join(config.rootDir, 'dist', 'runtime'),
    nodeModulesDir: join(config.rootDir, 'node_modules'),
  });
  const why = criuUnavailableReason() ?? monitorUnavailableReason();
  const snapshot = why
    ? undefined
    : new SnapshotBackend({
        stateDir: config.stateDir,
        runtimeDir: join(config.rootDir, 'dist', 'runtime'),
        nodeModulesDir: join(config.rootDir, 'node_modules'),
        boot,
        log: workerLog,
      });
  return new WorkerBackend(boot, snapshot, why ?? undefined, workerLog);
}
