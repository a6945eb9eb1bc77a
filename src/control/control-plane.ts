import { mkdir } from 'node:fs/promises';
import type { StatePaths } from '../config/state.js';
import type { ColdStartMode, FunctionManifest, ScalingSpec } from '../manifest/schema.js';
import { ManifestError } from '../manifest/validate.js';
import type { ScalingDecision } from '../autoscaler/index.js';
import { getPlacement, NoCapacityError, type PlacementPolicy, type WorkerView } from '../placement/index.js';
import { DeploymentStore, type Deployment } from './deployments.js';
import { WorkerHandle } from './worker-handle.js';
import { MemoryLedger } from '../transfer/retrieval-ledger.js';
import { InstanceCgroup } from '../sandbox/cgroup.js';
import { FunctionController, type ControllerEvent } from './function-controller.js';
import { HttpError } from '../gateway/errors.js';
import type { Invocation, InvocationResult } from '../queue-proxy/invocation.js';
import type { WorkerConfig, WorkerStats } from '../worker/protocol.js';

export interface ControlPlaneOptions {
  paths: StatePaths;
  rootDir: string;
  workers: number;
  workerMemoryBudgetMB: number;
  defaultScaling: Partial<ScalingSpec>;
  activatorQueueDepth: number;
  activatorTimeoutMs: number;
  queueProxyQueueFactor: number;
  defaultColdStart: ColdStartMode;
  /** Placement policy name (`least-loaded`, `snapshot-affinity`). */
  placement: string;
  gatewayUrl: () => string;
  transfers: WorkerConfig['transfers'];
  invokeToken: string;
  log(level: 'info' | 'warn' | 'error', msg: string): void;
  emit(event: ControllerEvent | { type: 'worker'; workerId: string; state: 'up' | 'dead' }): void;
  onDecision(functionName: string, decision: ScalingDecision, ready: number): void;
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
  private ticks = 0;
  private readonly placement: PlacementPolicy;
  private stopping = false;
  /** Workers that died and whose replacement is under way. */
  private readonly respawning = new Set<string>();
  /** Retrievals of inline and storage references, counted once for the whole platform. */
  private readonly ledger = new MemoryLedger();

  constructor(private readonly opts: ControlPlaneOptions) {
    this.deployments = new DeploymentStore(opts.paths.functions, opts.paths.deployments);
    this.placement = getPlacement(opts.placement);
  }

  async start(): Promise<void> {
    const p = this.opts.paths;
    await Promise.all([p.functions, p.logs, p.run, p.snapshots, p.traces, p.reports].map((d) => mkdir(d, { recursive: true })));
    await this.deployments.load((m) => this.opts.log('warn', m));
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
      rootDir: this.opts.rootDir,
      gatewayUrl: this.opts.gatewayUrl(),
      invokeToken: this.opts.invokeToken,
      transfers: this.opts.transfers,
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
    // before its instances are forgotten: what they held waits for the replacement
    this.respawning.add(w.id);
    for (const c of this.controllers.values()) {
      for (const inst of [...c.instances]) {
        if (inst.worker !== w) continue;
        c.onInstanceExit(inst.id, { reason: 'crash', code: null, signal: null, detail: 'worker died' }, true);
        // what does not die with its worker (snapshot-restored instances) is killed through its cgroups
        void Promise.resolve()
          .then(() => InstanceCgroup.of(inst.id).remove())
          .catch((err: Error) => this.opts.log('warn', `instance ${inst.id} of dead worker ${w.id}: ${err.message}`));
      }
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

  async deploy(path: string, opts: { replace?: boolean } = {}): Promise<{ deployment: Deployment; changed: boolean }> {
    const r = await this.deployments.deploy(path, { replace: opts.replace, check: (m) => this.checkReservation(m) });
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
    this.controllers.delete(name);
    await c.shutdown(undefined, graceMs);
    await this.deployments.remove(name);
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
    await Promise.allSettled([...this.controllers.values()].map((c) => c.shutdown('the platform is shutting down', 2000)));
    await Promise.allSettled(this.workers.map((w) => w.shutdown()));
  }
}
