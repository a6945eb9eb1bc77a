import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { ImageStore, imageRecordFile } from '../image/store.js';
import { KERNDAT_DIR } from '../snapshot/criu.js';
import { releaseImageRestoreRoot } from '../snapshot/mounts.js';
import { ImageEviction, type EvictionTimers } from './image-eviction.js';
import { join } from 'node:path';
import type { StatePaths } from '../config/state.js';
import type { ColdStartMode, FunctionManifest } from '../manifest/schema.js';
import type { ScalingSpec } from '../autoscaler/spec.js';
import { ManifestError } from '../manifest/validate.js';
import type { ScalingDecision } from '../autoscaler/index.js';
import { getPlacement, NoCapacityError, type PlacementPolicy, type WorkerView } from '../placement/index.js';
import { DeploymentStore, type Deployment } from './deployments.js';
import { WorkerHandle } from './worker-handle.js';
import { unmountRunDir } from '../sandbox/run-dir.js';
import { killLeftovers } from '../coldstart/leftovers.js';
import { effectiveColdStart, type SnapshotSupport } from '../coldstart/availability.js';
import { MemoryLedger } from '../transfer/retrieval-ledger.js';
import { FunctionController, type ControllerEvent } from './function-controller.js';
import { HttpError } from '../core/errors.js';
import type { Invocation, InvocationResult } from '../core/invocation.js';
import type { WorkerConfig, WorkerStats } from '../worker/protocol.js';

/** Platform-wide events: the controllers', plus worker ups and downs. */
export type PlatformBusEvent = ControllerEvent | { type: 'worker'; workerId: string; state: 'up' | 'dead' };

export interface ControlPlaneOptions {
  paths: StatePaths;
  rootDir: string;
  workers: number;
  workerMemoryBudgetMB: number;
  /** Instance starts each worker runs at once (default: the CPUs it may use). */
  maxStarting?: number;
  defaultScaling: Partial<ScalingSpec>;
  activatorQueueDepth: number;
  activatorTimeoutMs: number;
  queueProxyQueueFactor: number;
  defaultColdStart: ColdStartMode;
  /** Whether snapshot cold starts work here (probed at start-up); absent: assumed to. */
  snapshots?: SnapshotSupport;
  /** Placement policy name (`least-loaded`, `snapshot-affinity`). */
  placement: string;
  gatewayUrl: () => string;
  transfers: WorkerConfig['transfers'];
  invokeToken: string;
  log(level: 'info' | 'warn' | 'error', msg: string): void;
  emit(event: PlatformBusEvent): void;
  onDecision(functionName: string, decision: ScalingDecision, ready: number): void;
  /** When an image no function uses any more leaves the store (default: after 10 minutes, real timers). */
  imageEviction?: { graceMs?: number; timers?: EvictionTimers };
}

/** Delay before a dead worker is replaced (avoids a hot crash loop). */
const WORKER_RESPAWN_MS = 500;

/**
 * The control plane: deployments, the worker fleet, one controller per function, and the
 * periodic keep-alive sweep.
 */
export class ControlPlane {
  readonly deployments: DeploymentStore;
  readonly workers: WorkerHandle[] = [];
  private readonly controllers = new Map<string, FunctionController>();
  private sweepTimer?: NodeJS.Timeout;
  /** Instances of dead workers being killed and unmounted; stop() waits for them. */
  private ticks = 0;
  private readonly placement: PlacementPolicy;
  private stopping = false;
  /** Workers that died and whose replacement is under way. */
  private readonly respawning = new Set<string>();
  /** Retrievals of inline and storage references, counted once for the whole platform. */
  private readonly ledger = new MemoryLedger();
  /** Removes what an image no function uses any more holds in the store, after a grace. */
  readonly imageEviction: ImageEviction;

  constructor(private readonly opts: ControlPlaneOptions) {
    this.deployments = new DeploymentStore(opts.paths.functions, opts.paths.deployments);
    this.placement = getPlacement(opts.placement);
    this.imageEviction = new ImageEviction({
      store: new ImageStore(join(opts.paths.root, 'images')),
      inUse: (id) => this.deployments.list().some((d) => d.manifest.image?.id === id),
      releaseRoot: (root) => releaseImageRestoreRoot(KERNDAT_DIR, root),
      log: (level, msg) => opts.log(level, msg),
      ...opts.imageEviction,
    });
  }

  async start(): Promise<void> {
    const p = this.opts.paths;
    await Promise.all([p.functions, p.logs, p.run, p.snapshots, p.traces, p.reports].map((d) => mkdir(d, { recursive: true })));
    await this.deployments.load((m) => this.opts.log('warn', m));
    // A platform killed with SIGKILL (or its workers) may have left instances, CRIU and REAP
    // monitors running, run-folder mounts and half-written snapshots: this state folder's, and only
    // those, go now (never while another live platform owns the folder).
    const owner = await livePlatformPid(p.platform);
    const left = owner ? { instances: [], helpers: [], scratch: [] } : await killLeftovers(p.root, { scratchOf: 'all' });
    if (owner) this.opts.log('warn', `platform PID ${owner} still runs on ${p.root}: what it runs is left alone`);
    if (left.instances.length || left.helpers.length || left.scratch.length) {
      this.opts.log('warn', `killed what a previous run left: ${left.instances.length} instance(s), ${left.helpers.length} CRIU/monitor process(es), ${left.scratch.length} half-written snapshot(s)`);
    }
    await Promise.all(Array.from({ length: this.opts.workers }, (_, i) => this.spawnWorker(`worker-${i}`)));
    for (const d of this.deployments.list()) this.controllers.set(d.name, this.newController(d));
    this.sweepTimer = setInterval(() => this.sweep(), 1000);
    this.sweepTimer.unref();
  }

  private async spawnWorker(workerId: string): Promise<WorkerHandle> {
    const w = new WorkerHandle({
      workerId,
      stateDir: this.opts.paths.root,
      memoryBudgetMB: this.opts.workerMemoryBudgetMB,
      ...(this.opts.maxStarting !== undefined ? { maxStarting: this.opts.maxStarting } : {}),
      rootDir: this.opts.rootDir,
      gatewayUrl: this.opts.gatewayUrl(),
      invokeToken: this.opts.invokeToken,
      transfers: this.opts.transfers,
      ...(this.opts.snapshots ? { snapshots: this.opts.snapshots } : {}),
    }, this.opts.log, this.ledger);
    w.on('instance-exit', (instanceId: string, info) => {
      for (const c of this.controllers.values()) c.onInstanceExit(instanceId, info);
    });
    w.on('dead', () => this.onWorkerDead(w));
    await w.spawn();
    const idx = this.workers.findIndex((x) => x.id === workerId);
    if (idx >= 0) this.workers[idx] = w;
    else this.workers.push(w);
    this.opts.emit({ type: 'worker', workerId, state: 'up' });
    return w;
  }

  private onWorkerDead(w: WorkerHandle): void {
    this.opts.emit({ type: 'worker', workerId: w.id, state: 'dead' });
    if (this.stopping) return;
    this.opts.log('error', `worker ${w.id} (pid ${w.pid}) died; its instances are marked dead and it is being replaced`);
    const orphans: string[] = [];
    // before its instances are forgotten: what they held waits for the replacement
    this.respawning.add(w.id);
    for (const c of this.controllers.values()) {
      for (const inst of [...c.instances]) {
        if (inst.worker !== w) continue;
        c.onInstanceExit(inst.id, { reason: 'crash', code: null, signal: null, detail: 'worker died' }, true);
        orphans.push(inst.id);
      }
    }
    // What does not die with its worker (snapshot-restored instances, a dump's frozen tracee, CRIU
    // and REAP monitors) is killed through the instances' cgroups and run folders.
    if (orphans.length || w.pid) {
      killLeftovers(this.opts.paths.root, { instanceIds: orphans, scratchOf: w.pid ? [w.pid] : [] })
        .catch((err: Error) => this.opts.log('warn', `instances of dead worker ${w.id}: ${err.message}`))
        // their run-folder tmpfs (and CRIU's work folder beside it) go once nothing runs in them
        .then(() => Promise.all(orphans.map((id) => unmountRunDir(join(this.opts.paths.root, 'run', id)))))
        .catch(() => undefined);
    }
    this.respawn(w.id, 0);
  }

  /**
   * Starts the replacement of a dead worker, and keeps trying with back-off (0.5 s doubling to 10 s)
   * if it cannot start: a replacement that failed once (say, a file it imports briefly missing)
   * must not leave the platform a worker short for good. Requests wait meanwhile, within their
   * deadlines.
   */
  private respawn(workerId: string, failures: number): void {
    const delay = Math.min(10_000, WORKER_RESPAWN_MS * 2 ** failures);
    setTimeout(() => {
      if (this.stopping) return;
      this.spawnWorker(workerId).then(
        () => {
          this.respawning.delete(workerId);
          for (const c of this.controllers.values()) c.capacityReturned();
        },
        (err) => {
          this.opts.log('error', `could not restart worker ${workerId} (try ${failures + 1}): ${(err as Error).message}; trying again`);
          this.respawn(workerId, failures + 1);
        },
      );
    }, delay).unref();
  }

  /** Whether snapshot cold starts work here, as probed at start-up. */
  get snapshots(): SnapshotSupport {
    return this.opts.snapshots ?? { available: true };
  }

  /** A function's cold-start mode: configured, and the one it gets here (with why, when they differ). */
  coldStartOf(d: Deployment): { configured: ColdStartMode; mode: ColdStartMode; fallback?: string } {
    const configured = d.manifest.coldStart ?? this.opts.defaultColdStart;
    return { configured, ...effectiveColdStart(configured, this.snapshots) };
  }

  private newController(d: Deployment): FunctionController {
    return new FunctionController(d, {
      place: (dep) => this.place(dep),
      capacityReturning: () => this.respawning.size > 0 && !this.stopping,
      coldStartMode: (dep) => dep.manifest.coldStart ?? this.opts.defaultColdStart,
      defaultScaling: this.opts.defaultScaling,
      activatorQueueDepth: this.opts.activatorQueueDepth,
      activatorTimeoutMs: this.opts.activatorTimeoutMs,
      queueProxyQueueFactor: this.opts.queueProxyQueueFactor,
      log: this.opts.log,
      emit: this.opts.emit,
      onDecision: this.opts.onDecision,
    });
  }

  /** The fleet as placement policies see it: memory promised to live instances per worker. */
  workerViews(): WorkerView[] {
    return this.workers.map((w) => {
      let committed = 0;
      let instances = 0;
      for (const c of this.controllers.values()) {
        for (const i of c.instances) {
          if (i.worker !== w || i.state === 'dead') continue;
          instances++;
          committed += c.deployment.manifest.memoryMB;
        }
      }
      return {
        id: w.id,
        memoryBudgetMB: this.opts.workerMemoryBudgetMB,
        memoryCommittedMB: committed,
        instances,
        alive: w.alive,
        // Every worker restores from the same on-disk snapshot store, so none holds a snapshot the
        // others lack: on one machine snapshot-affinity falls back to least-loaded.
        snapshots: new Set<string>(),
      };
    });
  }

  private place(d: Deployment): WorkerHandle {
    try {
      const id = this.placement({ workers: this.workerViews(), function: { name: d.name, version: d.version, memoryMB: d.manifest.memoryMB } });
      return this.workers.find((w) => w.id === id)!;
    } catch (err) {
      if (err instanceof NoCapacityError) throw new HttpError(503, 'NoCapacity', err.message);
      throw err;
    }
  }

  /** Knative's rhythm: metrics every second, a scaling decision every two. */
  private sweep(): void {
    const decide = this.ticks++ % 2 === 1;
    const now = performance.now();
    for (const c of this.controllers.values()) {
      c.sampleMetrics(now);
      c.retireOldVersions();
      if (decide) c.decideAndAct(now);
    }
  }

  async deploy(path: string, opts: { settings?: Record<string, unknown>; replace?: boolean } = {}): Promise<{ deployment: Deployment; changed: boolean }> {
    const check = (m: FunctionManifest): void => {
      this.checkReservation(m);
      this.checkImage(m);
    };
    const r = await this.deployments.deploy(path, { settings: opts.settings, replace: opts.replace, check });
    // a re-deploy within the grace keeps the image's roots and layers
    const image = r.deployment.manifest.image?.id;
    if (image) this.imageEviction.cancel(image);
    const existing = this.controllers.get(r.deployment.name);
    if (!existing) this.controllers.set(r.deployment.name, this.newController(r.deployment));
    else if (r.changed) existing.redeploy(r.deployment);
    return r;
  }

  /**
   * What a manifest makes the platform hold without any traffic (minScale, initialScale instances of
   * memoryMB) must fit in half the fleet's memory, and one instance in one worker: one deploy must
   * not reserve the machine.
   */
  /** An image function names an image this state folder's store holds (`hivelab deploy --image` pulls it there first). */
  private checkImage(m: FunctionManifest): void {
    if (m.image && !existsSync(imageRecordFile(join(this.opts.paths.root, 'images'), m.image.id))) {
      throw new ManifestError(`function.json: field "image.id": image ${m.image.id} is not in this platform's image store (deploy it with hivelab deploy --image ${m.image.ref})`, 'image.id');
    }
  }

  private checkReservation(m: FunctionManifest): void {
    const budget = this.opts.workerMemoryBudgetMB;
    const fleet = budget * this.opts.workers;
    if (m.memoryMB > budget) {
      throw new ManifestError(`function.json: field "memoryMB": ${m.memoryMB} MB exceeds a worker's memory budget (${budget} MB)`, 'memoryMB');
    }
    const floor = Math.max(m.scaling?.minScale ?? 0, m.scaling?.initialScale ?? 0);
    if (floor * m.memoryMB > fleet / 2) {
      throw new ManifestError(
        `function.json: field "scaling.minScale": ${floor} instances of ${m.memoryMB} MB (minScale/initialScale) would reserve ${floor * m.memoryMB} MB, more than half the platform's ${fleet} MB`,
        'scaling.minScale',
      );
    }
  }

  /** Removes a function; in-flight requests get `graceMs` to finish (default: the controller's). */
  async remove(name: string, graceMs?: number): Promise<boolean> {
    const c = this.controllers.get(name);
    if (!c) return false;
    const image = this.deployments.get(name)?.manifest.image?.id;
    this.controllers.delete(name);
    await c.shutdown(undefined, graceMs);
    await this.deployments.remove(name);
    // the last function of its image: the image's roots and unshared layers go after the grace
    if (image) this.imageEviction.schedule(image);
    return true;
  }

  controller(name: string): FunctionController | undefined {
    return this.controllers.get(name);
  }

  listControllers(): FunctionController[] {
    return [...this.controllers.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  invoke(name: string, inv: Invocation): Promise<InvocationResult> {
    const c = this.controllers.get(name);
    if (!c) return Promise.reject(new HttpError(404, 'NotFound', `no function named "${name}" is deployed`));
    return c.invoke(inv);
  }

  async workerStats(): Promise<WorkerStats[]> {
    const all = await Promise.allSettled(this.workers.filter((w) => w.alive).map((w) => w.stats()));
    return all.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.imageEviction.stop();
    await Promise.allSettled([...this.controllers.values()].map((c) => c.shutdown('the platform is shutting down', 2000)));
    await Promise.allSettled(this.workers.map((w) => w.shutdown()));
    // A worker stops the instances it runs, not one still starting (a first cold start being booted
    // in the snapshot launcher or dumped, a restore): whatever of this state folder is left goes now.
    // It also unmounts and removes every run folder (tmpfs mounts) left under this state.
    await killLeftovers(this.opts.paths.root, { scratchOf: 'all' }).catch((err: Error) => this.opts.log('warn', `leftovers at stop: ${err.message}`));
  }
}

/** The PID in platform.json when that process still runs a platform (not us); null otherwise. */
async function livePlatformPid(platformFile: string): Promise<number | null> {
  try {
    const pid = Number((JSON.parse(await readFile(platformFile, 'utf8')) as { pid?: number }).pid);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('node') ? pid : null;
  } catch {
    return null;
  }
}
