import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SandboxStartError, type InstanceSpec } from '../sandbox/backend.js';
import { InstanceCgroup } from '../sandbox/cgroup.js';
import { SANDBOX_RUN_DIR } from '../sandbox/launch.js';
import { SpanNames, type PhaseTiming } from '../observability/semantic.js';
import { launchForSnapshot } from '../snapshot/launcher.js';
import type { InstanceSandboxes } from '../snapshot/instance-sandbox.js';
import type { DumpedMount } from '../snapshot/mounts.js';
import { createSnapshot, invalidateSnapshots, openSnapshot, snapshotDir, type Snapshot } from '../snapshot/store.js';
import { CriuInstance } from './criu-instance.js';
import { probeCommandReady, waitAccepting, waitHealthy } from '../snapshot/invoke.js';
import { CriuDeadlineError } from '../snapshot/deadline.js';
import { runtimeVersion } from './runtime-version.js';
import { invokeWarmUp } from './warm-up.js';
import type { ColdStart } from './start.js';

/**
 * A function version's snapshot, from birth to deletion.
 *
 * Birth: the first cold start of a version boots the runtime in the instance sandbox (as CRIU needs
 * it: src/snapshot/launcher.ts),
 * serves one warm-up invocation and is dumped with --leave-running: that instance then serves on
 * (reported as mode `boot`). Cold starts of the same version that arrive while the snapshot is
 * being made boot normally. A redeploy's first snapshot deletes the older versions' ones.
 * Use: every file is re-hashed the first time this worker opens the snapshot.
 * Death: a snapshot found corrupt is deleted; the next cold start snapshots anew.
 */

export interface LifecycleOptions {
  stateDir: string;
  /** Host path of the compiled runtimes (`dist/runtime`): no mount namespace maps it elsewhere. */
  runtimeDir: string;
  /** The platform's node_modules; linked at `<state>/node_modules` so host-path handlers resolve packages. */
  nodeModulesDir?: string;
  startTimeoutMs?: number;
  log: (level: 'info' | 'warn' | 'error', msg: string) => void;
  /** The host side of the instance sandbox (skeleton root, uids, run folders). */
  sandboxes: InstanceSandboxes;
}

/** The dump of a version's first instance ran out of time: CRIU and the instance were killed. */
export class DumpAbortedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DumpAbortedError';
  }
}

export class SnapshotLifecycle {
  /** Snapshots being made, by `<function>/<version>`. */
  private readonly creating = new Set<string>();
  /** Snapshot folders (with their creation time) whose files were verified by this worker. */
  private readonly verified = new Set<string>();

  constructor(private readonly opts: LifecycleOptions) {}

  /** The version's snapshot, or null when there is none (or it was corrupt and has been deleted). */
  async open(fn: string, version: string): Promise<Snapshot | null> {
    try {
      const snap = await openSnapshot(this.opts.stateDir, fn, version);
      if (!snap) return null;
      const id = `${snap.dir}@${snap.meta.createdAt}`;
      if (!this.verified.has(id)) {
        await openSnapshot(this.opts.stateDir, fn, version, { verify: true });
        this.verified.add(id);
      }
      return snap;
    } catch (err) {
      this.opts.log('warn', `${fn}@${version}: snapshot unusable, deleting it (next cold start snapshots anew): ${(err as Error).message}`);
      await rm(snapshotDir(this.opts.stateDir, fn, version), { recursive: true, force: true });
      return null;
    }
  }

  /** Deletes the version's snapshot (its restores keep failing): the next cold start takes a new one. */
  async discard(fn: string, version: string): Promise<void> {
    await rm(snapshotDir(this.opts.stateDir, fn, version), { recursive: true, force: true });
  }

  /** The snapshot as it is on disk now (its working set may have been recorded since `snap` was opened). */
  async current(snap: Snapshot): Promise<Snapshot> {
    return (await openSnapshot(this.opts.stateDir, snap.meta.function, snap.meta.version).catch(() => null)) ?? snap;
  }

  isCreating(fn: string, version: string): boolean {
    return this.creating.has(`${fn}/${version}`);
  }

  /** The first cold start of a version: boot in the launcher, warm up, dump with --leave-running. */
  async bootAndSnapshot(spec: InstanceSpec, version: string): Promise<ColdStart> {
    const key = `${spec.manifest.name}/${version}`;
    this.creating.add(key);
    try {
      return await this.create(spec, version);
    } finally {
      this.creating.delete(key);
    }
  }

  private async create(spec: InstanceSpec, version: string): Promise<ColdStart> {
    const fn = spec.manifest.name;
    const t0 = Date.now();
    await invalidateSnapshots(this.opts.stateDir, fn, version); // a redeploy invalidates the old ones
    const sandboxes = this.opts.sandboxes;
    const ids = await sandboxes.ids(spec);
    const releaseRunDir = await sandboxes.prepareRunDir(spec, ids);
    const socketPath = join(spec.runDir, 'fn.sock');
    await rm(socketPath, { force: true });
    const cgroup = await InstanceCgroup.create(spec.instanceId, { memoryMB: spec.manifest.memoryMB });
    let launched: Awaited<ReturnType<typeof launchForSnapshot>>;
    const launchSpec = await sandboxes.launchSpec(spec, ids, cgroup.procsFiles);
    try {
      launched = await launchForSnapshot(launchSpec);
    } catch (err) {
      await cgroup.remove().catch(() => undefined);
      await releaseRunDir();
      throw new SandboxStartError(`instance ${spec.instanceId}: ${(err as Error).message}`);
    }
    launched.output.pipe(createWriteStream(spec.logFile, { flags: 'a' }));
    let gone = false;
    void launched.exited.then(() => (gone = true));
    const instance = new CriuInstance({
      instanceId: spec.instanceId,
      socketPath,
      pid: launched.pid,
      cgroup,
      logFile: spec.logFile,
      memoryMB: spec.manifest.memoryMB,
      gone: launched.exited.then(() => 'exited' as const),
      kill: () => launched.kill(),
      afterExit: () => void releaseRunDir(),
    });
    try {
      const startTimeoutMs = this.opts.startTimeoutMs ?? Math.max(spec.manifest.timeoutMs, 30_000);
      // A command instance is ready when its bridge accepts (it binds once its program does), as
      // when booted. Its bridge's readiness probe then runs once before the dump: the snapshot holds
      // the probe's code compiled, and each restore's probe costs ~2 ms less (measured).
      if (spec.manifest.command) {
        await waitAccepting(socketPath, () => gone, startTimeoutMs);
        await probeCommandReady(socketPath, startTimeoutMs);
      } else await waitHealthy(socketPath, () => gone, startTimeoutMs);
    } catch (err) {
      await instance.stop(0);
      throw new SandboxStartError(`instance ${spec.instanceId} (${spec.manifest.runtime}): ${(err as Error).message}; log tail:\n${(await instance.exited).detail ?? ''}`);
    }
    const tReady = Date.now();
    instance.timings = { startMs: tReady - t0 };
    const phases: PhaseTiming[] = [{ name: SpanNames.sandboxStart, startEpochMs: t0, endEpochMs: tReady }];
    try {
      await invokeWarmUp(spec, socketPath, this.opts.log);
      const snap = await this.dumpWithRetry(spec, version, launched.pid, await sandboxes.dumpMounts(launchSpec, launched.pid));
      this.opts.log('info', `${fn}@${version}: snapshot ${snap.dir} (${(snap.meta.imageBytes / 1048576).toFixed(1)} MB, dump ${snap.meta.dumpMs.toFixed(0)} ms)`);
      instance.timings.snapshotMs = Date.now() - tReady;
      return { instance, mode: 'boot', phases, stats: { snapshotBytes: snap.meta.imageBytes, memoryBytes: snap.memoryBytes } };
    } catch (err) {
      if (err instanceof CriuDeadlineError) {
        // The dump froze the instance and was killed with it (src/snapshot/dump.ts): no instance to
        // serve on; the coordinator boots a fresh one. Half-written images were discarded.
        await instance.stop(0);
        throw new DumpAbortedError(`${fn}@${version}: snapshot of ${spec.instanceId} failed in phase ${err.phase}: ${err.message}`);
      }
      // The instance booted fine: it serves; the next cold start tries to snapshot again.
      this.opts.log('error', `${fn}@${version}: snapshot failed (the booted instance serves on): ${(err as Error).message}`);
      if (gone) throw new SandboxStartError(`instance ${spec.instanceId} died during its warm-up or dump`);
      return { instance, mode: 'boot', phases };
    }
  }

  /** The warm-up's connection may take a moment to be closed on the runtime's side. */
  private async dumpWithRetry(spec: InstanceSpec, version: string, pid: number, mounts: DumpedMount[]): Promise<Snapshot> {
    const make = () =>
      createSnapshot({
        stateDir: this.opts.stateDir,
        functionName: spec.manifest.name,
        version,
        runtime: spec.manifest.runtime,
        runtimeVersion: runtimeVersion(spec.manifest.runtime),
        pid,
        socketPath: `${SANDBOX_RUN_DIR}/fn.sock`, // the path the runtime bound, inside its sandbox
        mounts,
        leaveRunning: true,
      });
    try {
      return await make();
    } catch (err) {
      if (err instanceof CriuDeadlineError) throw err; // the instance is gone with the dump
      await new Promise((r) => setTimeout(r, 200));
      return make();
    }
  }
}
