import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { readFile, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ColdStartMode } from '../manifest/schema.js';
import type { SnapshotStats } from '../dashboard/platform-view.js';
import { SandboxStartError, type InstanceSpec, type SandboxBackend, type SandboxInstance } from './backend.js';
import { InstanceCgroup } from './cgroup.js';
import { instanceArgvFor, runtimeEnv } from './launch.js';
import { Attr, SpanNames, type PhaseTiming } from '../observability/semantic.js';
import { launchForSnapshot } from '../snapshot/launcher.js';
import { restoreInstance, type RestoredInstance } from '../snapshot/restore.js';
import {
  commitWorkingSet,
  createSnapshot,
  dropWorkingSet,
  invalidateSnapshots,
  openSnapshot,
  snapshotDir,
  type Snapshot,
} from '../snapshot/store.js';
import { CriuInstance } from '../snapshot/instance.js';
import { unixRequest, waitHealthy } from '../snapshot/invoke.js';
import { startCriuLazyPages } from '../snapshot/criu-lazy.js';
import { restoreWithMonitor, type MonitoredInstance } from '../reap/lazy-restore.js';
import type { MonitorMode, MonitorStats } from '../reap/monitor.js';
import { FILE_PAGES_FILE, recordFilePages, writeFilePages } from '../reap/file-pages.js';

/**
 * The snapshot backend (issue 4): cold starts from CRIU snapshots in four flavours.
 *
 *   snapshot   CRIU's eager restore (every page copied before the runtime runs)
 *   lazy       restore with every page served on demand by our REAP monitor (thesis ch. 4 baseline)
 *   reap       the first restore records the working set of one invocation, later ones prefetch it
 *              with one O_DIRECT read before the runtime runs (thesis ch. 5)
 *   criu-lazy  CRIU's own lazy-pages daemon (peer baseline)
 *
 * The first cold start of a function version boots the runtime in the CRIU-compatible launcher,
 * serves one warm-up invocation (the function's sample-input.json, or `{}`), and is dumped with
 * --leave-running: that instance then serves on (reported as mode `boot`). Cold starts of the same
 * version that arrive while the snapshot is being made boot normally (bubblewrap).
 *
 * The record phase's invocation is the worker's own (the same warm-up event), run before the
 * instance is handed to the control plane: the worker never sees routed invocations (the control
 * plane talks to the runtime socket directly), and this way no user request waits on the record
 * phase's bookkeeping. The price: the working set is that of the warm-up event; a request that
 * touches much more shows as a misprediction (> 30 % of the working set faulted on demand) and the
 * next cold start records again.
 *
 * Failures never fail a cold start that a boot can serve: a corrupted snapshot is deleted (the next
 * start snapshots anew), a corrupted working set is served lazily and dropped (the next start
 * records), a failed restore boots. A monitor death kills the instance (reason `monitor-died`) and
 * the next cold start of that version boots.
 */

export type SnapshotMode = Exclude<ColdStartMode, 'boot'>;

export interface SnapshotBackendOptions {
  stateDir: string;
  /** Host path of the compiled runtimes (`dist/runtime`): no mount namespace maps it elsewhere. */
  runtimeDir: string;
  /** The platform's node_modules; linked at `<state>/node_modules` so host-path handlers resolve packages. */
  nodeModulesDir?: string;
  /** Starts instances when no snapshot can be used (the process backend). */
  boot: SandboxBackend;
  log?: (level: 'info' | 'warn' | 'error', msg: string) => void;
  startTimeoutMs?: number;
}

/** What a start produced: the instance, the mode actually used, and its figures. */
export interface SnapshotStart {
  instance: SandboxInstance;
  mode: ColdStartMode;
  phases: PhaseTiming[];
  /** Dashboard figures for the function (absent on a plain boot). */
  stats?: SnapshotStats;
  /** The monitor's figures at the end of the restore (lazy, reap). */
  restoreStats?: MonitorStats;
  /** reap: which monitor phase ran. */
  reapPhase?: MonitorMode;
}

const MISPREDICTION_RATIO = 0.3;
const runtimeVersions = new Map<string, string>();

function runtimeVersion(runtime: string): string {
  let v = runtimeVersions.get(runtime);
  if (!v) {
    const bin = runtime === 'node' ? '/usr/bin/node' : '/usr/bin/python3';
    v = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
    runtimeVersions.set(runtime, v);
  }
  return v;
}

export class SnapshotBackend implements SandboxBackend {
  readonly name = 'snapshot';
  /** Snapshots being made, by `<function>/<version>`. */
  private readonly creating = new Map<string, Promise<unknown>>();
  /** Working sets being recorded. */
  private readonly recording = new Set<string>();
  /** Versions whose next cold start must boot (a monitor died). */
  private readonly bootNext = new Set<string>();
  /** Snapshot folders (with their creation time) whose files were verified by this worker. */
  private readonly verified = new Set<string>();
  private readonly counters = new Map<string, { restores: number; prefetched: number; onDemand: number }>();

  constructor(private readonly opts: SnapshotBackendOptions) {}

  /** SandboxBackend: without a mode, REAP (the default wherever CRIU works). */
  async start(spec: InstanceSpec): Promise<SandboxInstance> {
    return (await this.startWith(spec, 'reap', 'unversioned')).instance;
  }

  private log(level: 'info' | 'warn' | 'error', msg: string): void {
    (this.opts.log ?? ((l, m) => process.stderr.write(`hivelab worker [${l}]: ${m}\n`)))(level, msg);
  }

  async startWith(spec: InstanceSpec, mode: SnapshotMode, version: string): Promise<SnapshotStart> {
    const fn = spec.manifest.name;
    const key = `${fn}/${version}`;
    if (this.bootNext.delete(key)) {
      this.log('warn', `${fn}: booting ${spec.instanceId} (the last restore's monitor died)`);
      return this.boot(spec);
    }
    let snap: Snapshot | null = null;
    try {
      snap = await this.open(fn, version);
    } catch (err) {
      this.log('warn', `${fn}@${version}: snapshot unusable, deleting it (next cold start snapshots anew): ${(err as Error).message}`);
      await rm(snapshotDir(this.opts.stateDir, fn, version), { recursive: true, force: true });
    }
    if (!snap) {
      if (this.creating.has(key)) return this.boot(spec);
      let done!: () => void;
      this.creating.set(key, new Promise<void>((r) => (done = r)));
      try {
        return await this.bootAndSnapshot(spec, version);
      } finally {
        this.creating.delete(key);
        done();
      }
    }
    try {
      return await this.restore(spec, snap, mode, key);
    } catch (err) {
      this.log('error', `${fn}: ${mode} restore of ${spec.instanceId} failed, booting instead: ${(err as Error).message}`);
      return this.boot(spec);
    }
  }

  private async boot(spec: InstanceSpec): Promise<SnapshotStart> {
    const t0 = Date.now();
    const instance = await this.opts.boot.start(spec);
    return { instance, mode: 'boot', phases: instance.phases ?? [{ name: SpanNames.sandboxStart, startEpochMs: t0, endEpochMs: Date.now() }] };
  }

  /** Opens the version's snapshot; every file is re-hashed the first time this worker uses it. */
  private async open(fn: string, version: string): Promise<Snapshot | null> {
    const snap = await openSnapshot(this.opts.stateDir, fn, version);
    if (!snap) return null;
    const id = `${snap.dir}@${snap.meta.createdAt}`;
    if (!this.verified.has(id)) {
      await openSnapshot(this.opts.stateDir, fn, version, { verify: true });
      this.verified.add(id);
    }
    return snap;
  }

  private async ensureNodeModules(): Promise<void> {
    // Handlers run from their host path (<state>/functions/...): Node resolves packages by walking
    // up from there, so the platform's node_modules must be found above it.
    if (!this.opts.nodeModulesDir) return;
    const link = join(this.opts.stateDir, 'node_modules');
    if (!existsSync(link)) await symlink(this.opts.nodeModulesDir, link).catch(() => undefined);
  }

  private async warmUpEvent(spec: InstanceSpec): Promise<Buffer> {
    return readFile(join(spec.functionDir, 'sample-input.json')).catch(() => Buffer.from('{}'));
  }

  private async invokeWarmUp(spec: InstanceSpec, socketPath: string, timeoutMs = Math.max(spec.manifest.timeoutMs, 10_000)): Promise<void> {
    const r = await unixRequest(socketPath, 'POST', '/invoke', await this.warmUpEvent(spec), timeoutMs);
    // A failing handler still warmed the runtime up; only note it.
    if (r.status !== 200) this.log('warn', `${spec.manifest.name}: warm-up invocation answered ${r.status}: ${r.body.toString('utf8').slice(0, 200)}`);
  }

  /** The first cold start of a version: boot in the launcher, warm up, dump with --leave-running. */
  private async bootAndSnapshot(spec: InstanceSpec, version: string): Promise<SnapshotStart> {
    const fn = spec.manifest.name;
    const t0 = Date.now();
    await invalidateSnapshots(this.opts.stateDir, fn, version); // a redeploy invalidates the old ones
    await this.ensureNodeModules();
    const socketPath = join(spec.runDir, 'fn.sock');
    await rm(socketPath, { force: true });
    const cgroup = await InstanceCgroup.create(spec.instanceId, { memoryMB: spec.manifest.memoryMB });
    const env = runtimeEnv(spec, { taskRoot: spec.functionDir, runDir: spec.runDir });
    delete env.HIVELAB_READY_FD; // the launcher closes inherited descriptors: readiness is polled
    let launched: Awaited<ReturnType<typeof launchForSnapshot>>;
    try {
      launched = await launchForSnapshot({ argv: instanceArgvFor(spec.manifest, this.opts.runtimeDir), env, cwd: spec.functionDir }, cgroup.procsFiles);
    } catch (err) {
      await cgroup.remove().catch(() => undefined);
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
    });
    try {
      await waitHealthy(socketPath, () => gone, this.opts.startTimeoutMs ?? Math.max(spec.manifest.timeoutMs, 30_000));
    } catch (err) {
      await instance.stop(0);
      throw new SandboxStartError(`instance ${spec.instanceId} (${spec.manifest.runtime}): ${(err as Error).message}; log tail:\n${(await instance.exited).detail ?? ''}`);
    }
    const tReady = Date.now();
    instance.timings = { startMs: tReady - t0 };
    const phases: PhaseTiming[] = [{ name: SpanNames.sandboxStart, startEpochMs: t0, endEpochMs: tReady }];
    try {
      await this.invokeWarmUp(spec, socketPath);
      const snap = await this.dumpWithRetry(spec, version, launched.pid, socketPath);
      this.log('info', `${fn}@${version}: snapshot ${snap.dir} (${(snap.meta.imageBytes / 1048576).toFixed(1)} MB, dump ${snap.meta.dumpMs.toFixed(0)} ms)`);
      instance.timings.snapshotMs = Date.now() - tReady;
      return { instance, mode: 'boot', phases, stats: { snapshotBytes: snap.meta.imageBytes, memoryBytes: snap.meta.files[snap.meta.pagesFile]?.size } };
    } catch (err) {
      // The instance booted fine: it serves; the next cold start tries to snapshot again.
      this.log('error', `${fn}@${version}: snapshot failed (the booted instance serves on): ${(err as Error).message}`);
      if (gone) throw new SandboxStartError(`instance ${spec.instanceId} died during its warm-up or dump`);
      return { instance, mode: 'boot', phases };
    }
  }

  /** The warm-up's connection may take a moment to be closed on the runtime's side. */
  private async dumpWithRetry(spec: InstanceSpec, version: string, pid: number, socketPath: string): Promise<Snapshot> {
    const make = () =>
      createSnapshot({
        stateDir: this.opts.stateDir,
        functionName: spec.manifest.name,
        version,
        runtime: spec.manifest.runtime,
        runtimeVersion: runtimeVersion(spec.manifest.runtime),
        pid,
        socketPath,
        leaveRunning: true,
      });
    try {
      return await make();
    } catch {
      await new Promise((r) => setTimeout(r, 200));
      return make();
    }
  }

  private async restore(spec: InstanceSpec, snap: Snapshot, mode: SnapshotMode, key: string): Promise<SnapshotStart> {
    const fn = spec.manifest.name;
    const t0 = Date.now();
    const socketPath = join(spec.runDir, 'fn.sock');
    const workDir = join(spec.runDir, 'criu');
    const cgroup = await InstanceCgroup.create(spec.instanceId, { memoryMB: spec.manifest.memoryMB });
    const base = { imagesDir: snap.imagesDir, workDir, socketPath, externalFds: snap.meta.externalFds, cgroupProcs: cgroup.procsFiles };
    let restored: RestoredInstance;
    let monitored: MonitoredInstance | undefined;
    let reapPhase: MonitorMode | undefined;
    let stopDaemon: (() => void) | undefined;
    try {
      if (mode === 'snapshot') {
        restored = await restoreInstance(base);
      } else if (mode === 'criu-lazy') {
        const daemon = await startCriuLazyPages(snap.imagesDir, workDir);
        stopDaemon = daemon.stop;
        restored = await restoreInstance({ ...base, lazyPages: true });
      } else {
        const monitorMode: MonitorMode =
          mode === 'lazy' ? 'lazy' : snap.hasWorkingSet ? 'prefetch' : this.recording.has(key) ? 'lazy' : 'record';
        if (monitorMode === 'record') this.recording.add(key);
        reapPhase = mode === 'reap' ? monitorMode : undefined;
        const filePages = join(snap.dir, FILE_PAGES_FILE);
        monitored = await restoreWithMonitor({
          ...base,
          mode: monitorMode,
          pageMapIndex: snap.pageMapIndex,
          pagesFile: snap.pagesFile,
          ...(monitorMode === 'lazy' ? {} : { traceFile: snap.traceFile, wsFile: snap.wsFile }),
          ...(monitorMode === 'prefetch' && existsSync(filePages) ? { filePagesFile: filePages } : {}),
        });
        restored = monitored;
      }
    } catch (err) {
      stopDaemon?.();
      if (reapPhase === 'record') this.recording.delete(key);
      await cgroup.killAll('SIGKILL').catch(() => 0);
      await cgroup.remove().catch(() => undefined);
      throw err;
    }
    const tRestored = Date.now();
    restored.output.pipe(createWriteStream(spec.logFile, { flags: 'a' }));
    const m = monitored;
    const instance = new CriuInstance({
      instanceId: spec.instanceId,
      socketPath,
      pid: restored.pid,
      cgroup,
      logFile: spec.logFile,
      memoryMB: spec.manifest.memoryMB,
      gone: m ? m.exitReason : restored.exited.then(() => 'exited' as const),
      kill: () => restored.kill(),
      monitorStats: m ? () => m.monitor.stats() : undefined,
      beforeStop: m && reapPhase === 'prefetch' ? () => this.checkPrediction(fn, snap, m) : undefined,
      afterExit: (reason) => {
        stopDaemon?.();
        if (reason === 'monitor-died') {
          this.log('error', `${fn}: the REAP monitor of ${spec.instanceId} died; instance killed, next cold start boots and re-records`);
          this.bootNext.add(key);
          void dropWorkingSet(snap).catch(() => undefined);
        }
      },
    });
    const fail = async (what: string, err: unknown): Promise<never> => {
      if (reapPhase === 'record') this.recording.delete(key);
      await instance.stop(0);
      throw new Error(`${what}: ${(err as Error).message}`);
    };
    // Clones of one snapshot must not share random state or the original's identity.
    try {
      const r = await unixRequest(socketPath, 'POST', '/_hivelab/restored', JSON.stringify({ seed: randomBytes(32).toString('hex'), instanceId: spec.instanceId, sidecar: join(spec.runDir, 'qp.sock') }), 10_000);
      if (r.status !== 200) throw new Error(`answered ${r.status}: ${r.body.toString('utf8').slice(0, 200)}`);
    } catch (err) {
      await fail('POST /_hivelab/restored', err);
    }
    const tReseeded = Date.now();
    const rs = m?.restoreStats;
    if (m?.monitor.wsInvalidReason) {
      this.log('warn', `${fn}: working set of ${snap.dir} refused (${m.monitor.wsInvalidReason}); served lazily, dropped, the next cold start records again`);
      await dropWorkingSet(snap).catch(() => undefined);
    }
    if (m && reapPhase === 'record') {
      try {
        await this.record(spec, snap, m, socketPath);
      } catch (err) {
        // A clone whose record phase failed may be stuck on a page: never hand it out (boot instead).
        await dropWorkingSet(snap).catch(() => undefined);
        await fail('record phase', err);
      } finally {
        this.recording.delete(key);
      }
    }
    const tReady = Date.now();
    instance.timings = { startMs: tReady - t0, restoreMs: restored.restoreMs, reseedMs: tReseeded - tRestored, ...(reapPhase === 'record' ? { recordMs: tReady - tReseeded } : {}) };
    const pageAttrs: Record<string, number> = rs ? { [Attr.pagesPrefetched]: rs.prefetched, [Attr.faultsOnDemand]: rs.onDemand, [Attr.wsBytes]: rs.wsPages * 4096 } : {};
    const phases: PhaseTiming[] = [{ name: SpanNames.sandboxRestore, startEpochMs: t0, endEpochMs: tRestored, attributes: { 'hivelab.coldstart.restore_mode': reapPhase ?? mode, ...pageAttrs } }];
    if (rs && reapPhase === 'prefetch') {
      // The monitor fetches and installs while CRIU restores: place them at the restore's start.
      phases.push({ name: SpanNames.wsFetch, startEpochMs: t0, endEpochMs: t0 + rs.fetchMs, attributes: { [Attr.wsBytes]: rs.bytesRead } });
      phases.push({ name: SpanNames.wsInstall, startEpochMs: t0 + rs.fetchMs, endEpochMs: t0 + rs.fetchMs + rs.installMs, attributes: { [Attr.pagesPrefetched]: rs.prefetched } });
    }
    instance.phases = phases;
    const c = this.counters.get(key) ?? { restores: 0, prefetched: 0, onDemand: 0 };
    c.restores++;
    c.prefetched += rs?.prefetched ?? 0;
    c.onDemand += rs?.onDemand ?? 0;
    this.counters.set(key, c);
    const current = (await openSnapshot(this.opts.stateDir, fn, snap.meta.version).catch(() => null)) ?? snap;
    const stats: SnapshotStats = {
      snapshotBytes: snap.meta.imageBytes,
      memoryBytes: snap.meta.files[snap.meta.pagesFile]?.size,
      workingSetPages: current.meta.workingSet?.wsPages,
      workingSetBytes: current.meta.workingSet ? current.meta.workingSet.wsPages * 4096 : undefined,
      pagesPrefetched: c.prefetched,
      pagesOnDemand: c.onDemand,
      restores: c.restores,
      lastRestoreMs: restored.restoreMs,
    };
    return { instance, mode, phases, stats, restoreStats: rs, reapPhase };
  }

  /** Record phase: one invocation served lazily; its faults become the working set. */
  private async record(spec: InstanceSpec, snap: Snapshot, m: MonitoredInstance, socketPath: string): Promise<void> {
    // Bounded well below the function timeout, so a failed record phase can still boot in time.
    await this.invokeWarmUp(spec, socketPath, Math.max(2000, spec.manifest.timeoutMs / 2));
    const recorded = await m.monitor.finishRecord();
    // File-backed pages the runtime has mapped now: read ahead on every prefetch (cold host caches).
    await writeFilePages(join(snap.dir, FILE_PAGES_FILE), await recordFilePages(m.pid)).catch((err: Error) =>
      this.log('warn', `${spec.manifest.name}: file pages not recorded: ${err.message}`),
    );
    await commitWorkingSet(snap, recorded.wsPages);
    this.log('info', `${spec.manifest.name}: recorded a working set of ${recorded.wsPages} pages (${((recorded.wsPages * 4096) / 1048576).toFixed(1)} MB)`);
  }

  /** Thesis 5.4.1: too many faults outside the prefetched working set → record again next time. */
  private async checkPrediction(fn: string, snap: Snapshot, m: MonitoredInstance): Promise<void> {
    const s = await m.monitor.stats();
    if (s.wsPages > 0 && s.onDemand > MISPREDICTION_RATIO * s.wsPages) {
      this.log('warn', `${fn}: working-set misprediction (${s.onDemand} on-demand faults for ${s.wsPages} prefetched pages); re-recording on the next cold start`);
      await dropWorkingSet(snap);
    }
  }
}

