import { join } from 'node:path';
import type { InstanceSpec, SandboxBackend } from '../sandbox/backend.js';
import { SpanNames } from '../observability/semantic.js';
import { ProcessBackend } from '../sandbox/process-backend.js';
import { InstanceSandboxes } from '../snapshot/instance-sandbox.js';
import { snapshotsUnavailableReason } from './availability.js';
import { DumpAbortedError, SnapshotLifecycle } from './lifecycle.js';
import { RESTORE_FAILURES_TO_RESNAPSHOT, VersionPolicy, type SnapshotMode } from './policy.js';
import { restoreStart } from './restore-start.js';
import { RestoreCounters } from './stats.js';
import type { ColdStart, ColdStarter } from './start.js';

/**
 * The cold-start coordinator: the one place that decides how an instance comes to be. It reads the
 * mode and version from the spec (`InstanceSpec.coldStart`, `.version`) and
 *   boot                          → the boot backend (bubblewrap)
 *   a snapshot mode, no snapshot  → boot in the snapshot launcher and dump (lifecycle.ts)
 *   … snapshot being made         → the boot backend
 *   … snapshot there              → restore in that mode (restore-start.ts)
 * Failures never fail a cold start that a boot can serve: a corrupted snapshot is deleted, a failed
 * restore boots, and where snapshots cannot work at all every mode boots (logged once, with why).
 */

export type Log = (level: 'info' | 'warn' | 'error', msg: string) => void;

export interface CoordinatorOptions {
  stateDir: string;
  /** Host path of the compiled runtimes (`dist/runtime`). */
  runtimeDir: string;
  /** The platform's node_modules. */
  nodeModulesDir?: string;
  /** Starts instances when no snapshot can be used. */
  boot: SandboxBackend;
  /** Why snapshots cannot work here (then every mode boots); null when they can. */
  snapshotsUnavailable: string | null;
  log?: Log;
  startTimeoutMs?: number;
}

export class ColdStartCoordinator implements ColdStarter {
  private readonly policy = new VersionPolicy();
  private readonly counters = new RestoreCounters();
  private readonly lifecycle: SnapshotLifecycle;
  private readonly sandboxes: InstanceSandboxes;
  private readonly log: Log;
  private warned = false;

  constructor(private readonly opts: CoordinatorOptions) {
    this.log = opts.log ?? ((l, m) => process.stderr.write(`hivelab worker [${l}]: ${m}\n`));
    this.sandboxes = new InstanceSandboxes(opts);
    this.lifecycle = new SnapshotLifecycle({ ...opts, log: this.log, sandboxes: this.sandboxes });
  }

  async start(spec: InstanceSpec): Promise<ColdStart> {
    const mode = spec.coldStart ?? 'boot';
    if (mode === 'boot') return this.boot(spec);
    if (this.opts.snapshotsUnavailable) {
      if (!this.warned) this.log('warn', `cold-start mode ${mode} unavailable, booting instead: ${this.opts.snapshotsUnavailable}`);
      this.warned = true;
      return this.boot(spec);
    }
    return this.startFromSnapshot(spec, mode, spec.version ?? 'unversioned');
  }

  private async startFromSnapshot(spec: InstanceSpec, mode: SnapshotMode, version: string): Promise<ColdStart> {
    const fn = spec.manifest.name;
    const key = `${fn}/${version}`;
    if (this.policy.bootOnly(key) !== undefined) return this.boot(spec);
    if (this.policy.takeBootNext(key)) {
      this.log('warn', `${fn}: booting ${spec.instanceId} (the last restore's monitor died)`);
      return this.boot(spec);
    }
    const snap = await this.lifecycle.open(fn, version);
    if (!snap) {
      if (this.lifecycle.isCreating(fn, version)) return this.boot(spec);
      try {
        return await this.lifecycle.bootAndSnapshot(spec, version);
      } catch (err) {
        if (!(err instanceof DumpAbortedError)) throw err;
        this.log('error', `${err.message}; booting ${spec.instanceId} instead`);
        return this.boot(spec);
      }
    }
    try {
      const started = await restoreStart({ policy: this.policy, counters: this.counters, lifecycle: this.lifecycle, sandboxes: this.sandboxes, log: this.log }, spec, snap, mode);
      this.policy.restoreSucceeded(key);
      return started;
    } catch (err) {
      const why = (err as Error).message;
      this.log('error', `${fn}: ${mode} restore of ${spec.instanceId} failed, booting instead: ${why}`);
      const next = this.policy.restoreFailed(key, why);
      if (next === 'resnapshot') {
        this.log('warn', `${fn}@${version}: ${RESTORE_FAILURES_TO_RESNAPSHOT} restores in a row failed; snapshot deleted, the next cold start takes a new one`);
        await this.lifecycle.discard(fn, version);
      } else if (next === 'boot-only') {
        this.log('error', `${fn}@${version}: restores of its new snapshot failed ${RESTORE_FAILURES_TO_RESNAPSHOT} times in a row too; this version boots from now on (${mode} is off for it until it is deployed again or the worker restarts)`);
      }
      return this.boot(spec);
    }
  }

  private async boot(spec: InstanceSpec): Promise<ColdStart> {
    const t0 = Date.now();
    const instance = await this.opts.boot.start(spec);
    return { instance, mode: 'boot', phases: instance.phases ?? [{ name: SpanNames.sandboxStart, startEpochMs: t0, endEpochMs: Date.now() }] };
  }
}

/** The worker's coordinator: boots with bubblewrap, snapshots where CRIU and the REAP monitor work. */
export function createColdStartCoordinator(opts: { rootDir: string; stateDir: string; log?: Log; snapshotsUnavailable?: string }): ColdStartCoordinator {
  const runtimeDir = join(opts.rootDir, 'dist', 'runtime');
  const nodeModulesDir = join(opts.rootDir, 'node_modules');
  return new ColdStartCoordinator({
    stateDir: opts.stateDir,
    runtimeDir,
    nodeModulesDir,
    boot: new ProcessBackend({ runtimeDir, nodeModulesDir }),
    snapshotsUnavailable: opts.snapshotsUnavailable ?? snapshotsUnavailableReason(),
    log: opts.log,
  });
}
