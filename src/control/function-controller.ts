import type { ColdStartMode } from '../manifest/schema.js';
import type { Deployment } from './deployments.js';
import type { WorkerHandle } from './worker-handle.js';
import type { ExitInfo } from '../sandbox/backend.js';
import type { Invocation, InvocationResult } from '../core/invocation.js';
import { QueueProxy, InstanceFailure } from '../queue-proxy/queue-proxy.js';
import { Activator } from '../activator/activator.js';
import { HttpError } from '../core/errors.js';
import { newInstanceId } from '../core/ids.js';
import { InstanceRecord } from './instance-record.js';
import { referenceEvent } from '../transfer/reference-event.js';
import type { ScalingSpec } from '../autoscaler/spec.js';
import {
  createPolicy,
  resolveScalingConfig,
  scaleDelta,
  pickIdleToStop,
  startsAllowed,
  StartBackoff,
  STARTING_CAP_DEFAULTS,
  START_BACKOFF_DEFAULTS,
  type ScalingPolicy,
  type ScalingDecision,
  type StartingCap,
  type StartBackoffConfig,
} from '../autoscaler/index.js';
import { SpanNames, Attr, addPhaseTimings } from '../observability/index.js';
import type { SnapshotStats } from '../coldstart/stats.js';

export interface ControllerDeps {
  /** Chooses the worker for a new instance; throws HttpError(503) when none can take it. */
  place(deployment: Deployment): WorkerHandle;
  /**
   * A dead worker is being replaced: a placement that fails now may succeed in a moment, so buffered
   * requests keep waiting (within their deadline) instead of failing with "no live workers".
   */
  capacityReturning(): boolean;
  coldStartMode(deployment: Deployment): ColdStartMode;
  /** Platform-wide scaling defaults under each manifest's own `scaling` block. */
  defaultScaling: Partial<ScalingSpec>;
  activatorQueueDepth: number;
  activatorTimeoutMs: number;
  queueProxyQueueFactor: number;
  log(level: 'info' | 'warn' | 'error', msg: string): void;
  /** Lifecycle notifications (dashboard, metrics). */
  emit(event: ControllerEvent): void;
  /** Every autoscaler decision, with the instances that were ready when it was taken. */
  onDecision(functionName: string, decision: ScalingDecision, ready: number): void;
  /** Instances starting at once relative to ready ones (default STARTING_CAP_DEFAULTS). */
  startingCap?: StartingCap;
  /** Back-off after failed starts (default START_BACKOFF_DEFAULTS). */
  startBackoff?: StartBackoffConfig;
}

export type ControllerEvent =
  | { type: 'instance'; functionName: string; instanceId: string; state: string; detail?: string; mode?: string; startMs?: number; snapshot?: SnapshotStats }
  | { type: 'invocation'; functionName: string; instanceId?: string; status: number; latencyMs: number; cold: boolean };

/** Grace for an instance's exit report to arrive after its connection broke, to tell OOM from crash. */
const EXIT_REPORT_GRACE_MS = 2000;

/**
 * Everything the control plane does for one function: its instances' lifecycle (start, recycle,
 * retire old versions), the autoscaler's decisions and their actuation, and retries when the
 * platform failed. Routing and buffering are its activator's (activator/activator.ts), which it
 * tells when instances come and go and which asks it for capacity.
 */
export class FunctionController {
  readonly instances: InstanceRecord[] = [];
  private readonly activator: Activator<InstanceRecord>;
  private closed = false;
  private closedReason = '';
  private policy!: ScalingPolicy;
  /** The latest decision and metric sample, for status output. */
  lastDecision?: ScalingDecision;
  lastSample = { concurrency: 0, requests: 0 };
  /** Failed or timed-out starts pause new ones (exponential, reset by a start that succeeds). */
  readonly startBackoff: StartBackoff;
  private readonly startingCap: StartingCap;
  /** Wakes the controller when a back-off ends while requests wait. */
  private backoffTimer?: NodeJS.Timeout;

  constructor(
    public deployment: Deployment,
    private readonly deps: ControllerDeps,
  ) {
    this.startBackoff = new StartBackoff(deps.startBackoff ?? START_BACKOFF_DEFAULTS);
    this.startingCap = deps.startingCap ?? STARTING_CAP_DEFAULTS;
    this.activator = new Activator(
      { functionName: deployment.name, concurrency: deployment.manifest.concurrency, queueDepth: deps.activatorQueueDepth, timeoutMs: deps.activatorTimeoutMs },
      { routable: () => this.routable(), askForCapacity: () => this.decideAndAct() },
    );
    this.resetPolicy();
    this.decideAndAct(); // initialScale
  }

  private resetPolicy(): void {
    const m = this.deployment.manifest;
    this.policy = createPolicy(resolveScalingConfig({ ...this.deps.defaultScaling, ...m.scaling }, m.concurrency));
  }

  get policyName(): string {
    return this.policy.name;
  }

  get name(): string {
    return this.deployment.name;
  }

  get bufferedCount(): number {
    return this.activator.buffered;
  }

  /** Instances that serve or will serve the current version. */
  private live(): InstanceRecord[] {
    return this.instances.filter(
      (i) => i.version === this.deployment.version && (i.state === 'starting' || i.state === 'ready' || i.state === 'busy'),
    );
  }

  private routable(): InstanceRecord[] {
    return this.instances.filter((i) => i.version === this.deployment.version && (i.state === 'ready' || i.state === 'busy'));
  }

  async invoke(inv: Invocation): Promise<InvocationResult> {
    if (this.closed) throw new HttpError(410, 'FunctionDeleted', this.closedReason || `function ${this.name} was removed`);
    this.policy.onArrival(performance.now(), this.demand());
    const { instance: inst, waited } = await this.activator.route(inv);
    if (waited && inv.cold && inv.trace.sampled) {
      const span = inv.trace.addCompletedSpan(
        SpanNames.coldStart,
        inst.createdAt,
        inst.readyAt ?? Date.now(),
        { [Attr.coldStartMode]: inst.mode, [Attr.instanceId]: inst.id, ...(inst.prefetching && { [Attr.xdtPrefetch]: true }) },
        waited,
      );
      addPhaseTimings(inv.trace, inst.phases, span);
    }
    return this.dispatch(inst, inv);
  }

  private async dispatch(inst: InstanceRecord, inv: Invocation): Promise<InvocationResult> {
    const qp = inst.qp!;
    inst.state = 'busy';
    inst.lastActive = Date.now();
    try {
      const result = await qp.invoke(inv);
      inst.served++;
      // only a REAP-restored instance acts on it (its misprediction check): no message for the rest
      if (inst.served === 1 && inst.mode === 'reap') void inst.worker.firstServed(inst.id).catch(() => undefined);
      return result;
    } catch (err) {
      if (!(err instanceof InstanceFailure)) throw err;
      // the function was deleted while this ran, and its grace ran out: that, not a crash, is why
      if (this.closed) throw new HttpError(410, 'FunctionDeleted', `${this.closedReason}; the request was still running after the grace period`, { instanceId: inst.id });
      if (err.kind === 'timeout') {
        this.deps.log('warn', `${inv.functionName}: invocation ${inv.id} timed out on ${inst.id}; recycling the instance`);
        void this.recycle(inst, true);
        throw new HttpError(504, 'Timeout', `function ${this.name} did not answer within ${this.deployment.manifest.timeoutMs} ms`, {
          instanceId: inst.id,
        });
      }
      const info = await Promise.race([inst.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), EXIT_REPORT_GRACE_MS).unref())]);
      // The platform failed, not the function (its worker died, or the REAP monitor a lazily restored
      // instance depends on): the request was accepted, so it must not be lost; retry it.
      if ((inst.workerDied || info?.reason === 'monitor-died') && inv.retries < 2) {
        inv.retries++;
        const why = inst.workerDied ? `worker ${inst.worker.id} died` : `the page-fault monitor of ${inst.id} died`;
        this.deps.log('warn', `${inv.functionName}: re-dispatching ${inv.id}: ${why}`);
        return this.invoke(inv);
      }
      if (!info) void this.recycle(inst, true);
      throw instanceErrorFor(this.name, inst.id, info);
    } finally {
      inst.lastActive = Date.now();
      if (inst.state === 'busy' && inst.inFlight === 0) inst.state = 'ready';
      this.activator.drain();
    }
  }

  /** Requests in flight on the current version's instances plus those buffered here. */
  private demand(): number {
    let n = this.activator.buffered;
    for (const i of this.instances) if (i.version === this.deployment.version) n += i.inFlight;
    return n;
  }

  /** Once a second: the queue-proxies' metrics, summed over instances, to the scaling policy. */
  sampleMetrics(now = performance.now()): void {
    let concurrency = this.activator.buffered;
    let peak = this.activator.buffered;
    let requests = 0;
    for (const inst of this.instances) {
      if (!inst.qp) continue;
      const s = inst.qp.meter.sample();
      if (inst.version !== this.deployment.version) continue;
      concurrency += s.averageConcurrency;
      peak += s.peak;
      requests += s.requests;
    }
    this.lastSample = { concurrency, requests };
    this.policy.record({ at: now, concurrency, peak, requests });
  }

  /** Asks the policy for the desired scale and moves towards it: start instances, or stop idle ones. */
  decideAndAct(now = performance.now()): void {
    if (this.closed) return;
    const live = this.live();
    const ready = live.filter((i) => i.state !== 'starting');
    const starting = live.length - ready.length;
    const decision = this.policy.decide(now, { ready: ready.length, starting, inFlight: this.demand() });
    this.lastDecision = decision;
    this.deps.onDecision(this.name, decision, ready.length);
    const delta = scaleDelta(decision.desired, ready.length, starting);
    const { stop } = delta;
    // Whatever the policy says, a buffered request always has an instance on its way.
    const floor = this.activator.buffered > 0 && live.length === 0 ? 1 : 0;
    const wanted = Math.max(delta.start, floor);
    if (wanted > 0 && this.startBackoff.blocked(now)) {
      // Starts of this function failed or missed their deadline just now: asking again at once
      // would take the CPU the last attempt lacked. Waiting requests stay buffered (within their
      // deadline) and the controller looks again when the back-off ends.
      this.wakeAfterBackoff(now);
    } else {
      // Growth in rounds: at most as many starting as the cap allows relative to the ready ones.
      const start = startsAllowed(wanted, ready.length, starting, this.startingCap);
      for (let n = 0; n < start; n++) if (!this.startInstance()) break;
    }
    if (stop > 0) {
      const idle = pickIdleToStop(ready.map((i) => ({ id: i.id, inFlight: i.inFlight, lastUsedAt: i.lastActive })), stop);
      for (const id of idle) {
        const inst = this.instances.find((i) => i.id === id);
        if (inst) void this.recycle(inst);
      }
    }
  }

  /** Starts one instance; the activator's buffer drains into it once it is ready. */
  startInstance(): InstanceRecord | undefined {
    const d = this.deployment;
    let worker: WorkerHandle;
    try {
      worker = this.deps.place(d);
    } catch (err) {
      // Knative's activator holds requests while capacity comes back; so do we while a worker is
      // being replaced (capacityReturned() pokes this controller once it is up).
      if (this.live().length === 0 && !this.deps.capacityReturning()) this.activator.failAll(err as Error);
      return undefined;
    }
    const inst = new InstanceRecord(newInstanceId(d.name), d.name, d.version, worker, d.manifest.concurrency);
    this.instances.push(inst);
    // A waiting invocation whose event refers to an object goes to this instance, whose sidecar
    // starts pulling the object while the runtime starts (thesis §6.4.1).
    const prefetchFor = this.activator.pin(inst, (inv) => referenceEvent(inv.body, inv.contentType) !== undefined);
    this.deps.emit({ type: 'instance', functionName: d.name, instanceId: inst.id, state: 'starting' });
    worker
      .startInstance({
        instanceId: inst.id,
        functionName: d.name,
        version: d.version,
        functionDir: d.dir,
        manifest: d.manifest,
        coldStart: this.deps.coldStartMode(d),
        ...(prefetchFor && { prefetch: { body: prefetchFor.body.toString('utf8'), contentType: prefetchFor.contentType } }),
      })
      .then(
        (started) => {
          if (inst.state !== 'starting') {
            // Recycled while it was starting (scale-down, removal): the worker did not know it yet.
            this.activator.unpin(inst);
            if (inst.state === 'draining') void inst.worker.stopInstance(inst.id, true).catch(() => {});
            return;
          }
          inst.qp = new QueueProxy({
            instanceId: inst.id,
            socketPath: started.socketPath,
            concurrency: d.manifest.concurrency,
            queueDepth: d.manifest.concurrency * this.deps.queueProxyQueueFactor,
          });
          inst.pid = started.pid;
          inst.timings = started.timings;
          inst.phases = started.phases;
          inst.mode = started.mode;
          inst.prefetching = started.prefetching === true;
          inst.state = 'ready';
          inst.readyAt = Date.now();
          this.startBackoff.succeeded();
          this.deps.emit({
            type: 'instance',
            functionName: d.name,
            instanceId: inst.id,
            state: 'ready',
            mode: inst.mode,
            startMs: inst.readyAt - inst.createdAt,
            // Snapshot and working-set figures for the dashboard's snapshot panel.
            ...(started.snapshot ? { snapshot: started.snapshot } : {}),
          });
          if (this.closed || inst.version !== this.deployment.version) void this.recycle(inst);
          else this.activator.drain();
        },
        (err: Error & { detail?: string; type?: string }) => {
          if (err.name === 'WorkerError' && err.type === 'StartCancelled') {
            // stopped while it waited for a start slot (recycled, function deleted): not a failure
            this.forget(inst, { reason: 'stopped', code: null, signal: null, detail: err.message });
            return;
          }
          this.deps.log('error', `${d.name}: instance ${inst.id} failed to start: ${err.message}${err.detail ? `\n${err.detail}` : ''}`);
          this.forget(inst, { reason: 'start-failed', code: null, signal: null, detail: err.message });
          // The function's own failure or the host's overload, not a worker dying or a placement race.
          if (!(err.name === 'WorkerError' && (err.type === 'WorkerDied' || err.type === 'NoCapacity'))) {
            const delay = this.startBackoff.failed(performance.now());
            this.deps.log('warn', `${d.name}: ${this.startBackoff.failures} failed start(s) in a row; no new start for ${delay} ms`);
          }
          // Requests waiting for this function fail with the reason instead of waiting for a timeout
          // when nothing else could serve them (e.g. the handler does not even import).
          if (this.live().length === 0 && !(err.name === 'WorkerError' && (err as { type?: string }).type === 'WorkerDied' && this.deps.capacityReturning())) {
            this.activator.failAll(
              new HttpError(502, 'InstanceStartFailed', `an instance of ${d.name} failed to start: ${err.message}`, {
                detail: err.detail,
              }),
            );
          }
        },
      );
    return inst;
  }

  private wakeAfterBackoff(now: number): void {
    if (this.backoffTimer || this.closed) return;
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      if (this.activator.buffered > 0) this.decideAndAct();
    }, Math.max(1, this.startBackoff.until - now));
    this.backoffTimer.unref();
  }

  /** A worker (re)joined the fleet: buffered requests that could not be placed get an instance now. */
  capacityReturned(): void {
    if (this.activator.buffered > 0) this.decideAndAct();
  }

  /** Called when the worker reports an instance's exit (or the worker itself died). */
  onInstanceExit(instanceId: string, info: ExitInfo, workerDied = false): void {
    const inst = this.instances.find((i) => i.id === instanceId);
    if (!inst) return;
    inst.workerDied ||= workerDied;
    if (info.reason !== 'stopped') {
      this.deps.log('warn', `${this.name}: instance ${inst.id} exited (${info.reason}${info.signal ? `, ${info.signal}` : ''}${info.code !== null ? `, code ${info.code}` : ''})`);
    }
    this.forget(inst, info);
    if (this.activator.buffered > 0) this.decideAndAct();
  }

  private forget(inst: InstanceRecord, info: ExitInfo): void {
    inst.markDead(info);
    this.activator.unpin(inst);
    const idx = this.instances.indexOf(inst);
    if (idx >= 0) this.instances.splice(idx, 1);
    this.deps.emit({ type: 'instance', functionName: this.name, instanceId: inst.id, state: 'dead', detail: info.reason });
  }

  /**
   * Stops an instance; its exit report removes it. Unless forced, the worker first lets the
   * instance's XDT objects be retrieved: a producer is not scaled down under its consumers.
   */
  async recycle(inst: InstanceRecord, force = false): Promise<void> {
    if (inst.state === 'dead') return;
    inst.state = 'draining';
    this.deps.emit({ type: 'instance', functionName: this.name, instanceId: inst.id, state: 'draining' });
    try {
      await inst.worker.stopInstance(inst.id, force);
    } catch {
      // The worker is gone: its death handler marks the instance dead.
    }
  }

  /** Instances of an old version stop as soon as they are idle. */
  retireOldVersions(): void {
    for (const inst of [...this.instances]) {
      if (inst.version !== this.deployment.version && inst.state === 'ready' && inst.inFlight === 0) void this.recycle(inst);
    }
  }

  /** A new version: new invocations go to new instances; old ones finish their work and stop. */
  redeploy(d: Deployment): void {
    this.deployment = d;
    this.activator.concurrency = d.manifest.concurrency;
    this.resetPolicy();
    this.retireOldVersions();
    this.decideAndAct();
  }

  /**
   * Removal: nothing new is routed here; what waits in the buffer ends with FunctionDeleted; what is
   * in flight may finish for up to `graceMs` (default the function's timeout, at most 30 s). Then
   * every instance is stopped, and a request still running on one ends with FunctionDeleted
   * (dispatch), not as a crash.
   */
  async shutdown(reason = `function ${this.name} was removed`, graceMs = Math.min(this.deployment.manifest.timeoutMs, 30_000)): Promise<void> {
    this.closed = true;
    this.closedReason = reason;
    clearTimeout(this.backoffTimer);
    this.activator.failAll(new HttpError(410, 'FunctionDeleted', reason));
    const until = Date.now() + graceMs;
    for (const i of this.instances) if (i.inFlight === 0) void this.recycle(i, true);
    while (this.instances.some((i) => i.inFlight > 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
    await Promise.allSettled(this.instances.map((i) => this.recycle(i, true)));
  }
}

function instanceErrorFor(fn: string, instanceId: string, info: ExitInfo | undefined): HttpError {
  if (info?.reason === 'oom') {
    return new HttpError(502, 'OutOfMemory', `instance ${instanceId} of ${fn} exceeded its memory limit and was killed`, { instanceId });
  }
  const how = info ? `${info.reason}${info.signal ? ` (${info.signal})` : ''}${info.code !== null ? ` (exit code ${info.code})` : ''}` : 'connection lost';
  return new HttpError(502, 'InstanceCrashed', `instance ${instanceId} of ${fn} died while serving the request: ${how}`, { instanceId });
}
