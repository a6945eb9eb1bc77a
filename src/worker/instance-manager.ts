import { chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExitInfo, InstanceSpec } from '../sandbox/backend.js';
import { logTail } from '../sandbox/process-backend.js';
import type { StartRequest, StartedInstance, WorkerStats } from './protocol.js';
import { Attr, SpanNames } from '../observability/semantic.js';
import type { ColdStart, ColdStarter } from '../coldstart/start.js';
import { mountRunDir, unmountRunDir } from '../sandbox/run-dir.js';
import type { SandboxUids } from '../sandbox/uids.js';
import { GRPC_EGRESS_SOCKET } from '../xdt/sidecar/index.js';
import { SANDBOX_UID_BASE } from '../sandbox/launch.js';
import type { ImageStore } from '../image/store.js';
import { defaultMaxStarting, StartAdmission, StartAdmissionError, type StartPermit } from './start-admission.js';

/**
 * A start's deadline when the manager is given none: the sandbox backend's own readiness timeout
 * (the larger of the function's timeout and 30 s, src/sandbox/process-backend.ts), counted from
 * when the worker received the request, so time spent waiting for a start slot counts against it.
 */
export function defaultStartTimeoutMs(timeoutMs: number): number {
  return Math.max(timeoutMs, 30_000);
}

/** The provider-side part of an instance's queue-proxy, living next to it in the worker. */
export interface InstanceSidecar {
  close(): Promise<void>;
  pendingObjects(): number;
  /** Starts pulling the object an event refers to; false when the event refers to none. */
  prefetch(body: Buffer, contentType?: string): boolean;
}

interface Running {
  instance: ColdStart['instance'];
  monitorStats?: ColdStart['monitorStats'];
  sidecar?: InstanceSidecar;
  functionName: string;
  memoryMB: number;
  runDir: string;
  /** The control plane reported its first invocation answered, and the instance acted on it. */
  firstServed?: boolean;
}

/**
 * The worker's instance manager (vHive's orchestrator role): starts instances through the cold-start
 * coordinator (src/coldstart; the mode and version travel in the spec), remembers what runs, enforces the worker's memory budget, and reports every death
 * exactly once.
 */
export class InstanceManager {
  private readonly running = new Map<string, Running>();
  private committedMB = 0;
  /** Run folders being unmounted and removed; a worker shutting down waits for them. */
  private readonly cleanups = new Set<Promise<void>>();
  /** Run folders of instances still starting (not in `running` yet). */
  private readonly starting = new Set<string>();
  /** At most `maxStarting` starts at once; the rest wait in FIFO order (start-admission.ts). */
  private readonly admission: StartAdmission;

  constructor(
    private readonly starter: ColdStarter,
    private readonly opts: {
      workerId: string;
      runRoot: string;
      logRoot: string;
      memoryBudgetMB: number;
      /** Instance starts in progress at once (default: the CPUs this worker may use). */
      maxStarting?: number;
      /** A start's deadline from its request's arrival (default `defaultStartTimeoutMs`). */
      startTimeoutMs?: (timeoutMs: number) => number;
    },
    private readonly onExit: (instanceId: string, info: ExitInfo) => void,
    /** Starts the instance's sidecar on `<runDir>/qp.sock` before the runtime starts. */
    private readonly startSidecar?: (req: StartRequest, runDir: string) => Promise<InstanceSidecar>,
    /** Longest a stop waits for the instance's XDT objects to be retrieved (their expiry). */
    private readonly objectTtlMs = 10 * 60_000,
    /**
     * The functions' sandbox uids. With them, each instance runs as its function's uid and its run
     * folder is a tmpfs of its own (docs/SANDBOX.md); without (unit tests of the manager), a plain folder.
     */
    private readonly uids?: SandboxUids,
    /** Where image functions' roots are assembled (`<state>/images`, src/image/store.ts). */
    private readonly images?: ImageStore,
    admission?: StartAdmission,
  ) {
    this.admission = admission ?? new StartAdmission(opts.maxStarting ?? defaultMaxStarting());
  }

  /**
   * Starts an instance once a start slot is free. Its memory is committed from the request on, so
   * that placement sees a worker with a long queue as full; the wait for a slot counts against the
   * start's deadline and shows as the `coldstart.queue` phase.
   */
  async start(req: StartRequest): Promise<StartedInstance> {
    const memoryMB = req.manifest.memoryMB;
    if (this.committedMB + memoryMB > this.opts.memoryBudgetMB) {
      throw Object.assign(
        new Error(`worker ${this.opts.workerId} has no memory left for ${memoryMB} MB (${this.committedMB}/${this.opts.memoryBudgetMB} MB committed)`),
        { type: 'NoCapacity' },
      );
    }
    const receivedAt = Date.now();
    const deadline = receivedAt + (this.opts.startTimeoutMs ?? defaultStartTimeoutMs)(req.manifest.timeoutMs);
    this.committedMB += memoryMB;
    let permit: StartPermit;
    try {
      permit = await this.admission.admit(req.instanceId, deadline);
    } catch (err) {
      this.committedMB -= memoryMB;
      throw err;
    }
    const queuePhase = { name: SpanNames.startQueue, startEpochMs: receivedAt, endEpochMs: Date.now(), attributes: { [Attr.startSlots]: this.admission.limit } };
    const work = this.startAdmitted(req, memoryMB);
    // The slot is held for as long as the start really runs, also past a missed deadline: what
    // counts is the CPU the starts take, not what the control plane still waits for.
    void work.then(
      () => permit.release(),
      () => permit.release(),
    );
    let timer: NodeJS.Timeout | undefined;
    const missed = new Promise<never>((_, reject) => {
      timer = setTimeout(async () => {
        // what the instance printed says why it never became ready (a program that never listens)
        const tail = await logTail(join(this.opts.logRoot, req.functionName, `${req.instanceId}.log`)).catch(() => '');
        reject(
          new StartAdmissionError(
            `instance ${req.instanceId} did not start within its deadline (${deadline - receivedAt} ms, ${queuePhase.endEpochMs - receivedAt} ms of it waiting for a start slot)${tail ? `; log tail:\n${tail}` : ''}`,
            'StartTimeout',
          ),
        );
      }, Math.max(0, deadline - Date.now()));
    });
    try {
      const started = await Promise.race([work, missed]);
      return { ...started, phases: [queuePhase, ...started.phases] };
    } catch (err) {
      // Too late: nobody waits for this instance any more; it goes as soon as it is up.
      if (err instanceof StartAdmissionError) void work.then((s) => this.stop(s.instanceId, true)).catch(() => {});
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private async startAdmitted(req: StartRequest, memoryMB: number): Promise<StartedInstance> {
    const runDir = join(this.opts.runRoot, req.instanceId);
    const logDir = join(this.opts.logRoot, req.functionName);
    let uid: number | undefined;
    try {
      uid = await this.uids?.uidFor(req.functionName);
      await mkdir(runDir, { recursive: true, mode: 0o700 });
      if (uid !== undefined) {
        try {
          this.starting.add(runDir);
          await mountRunDir(runDir, uid, uid);
        } catch (err) {
          this.starting.delete(runDir);
          await rm(runDir, { recursive: true, force: true });
          throw err;
        }
      }
      await mkdir(logDir, { recursive: true });
    } catch (err) {
      this.committedMB -= memoryMB;
      throw err;
    }
    const startedAt = Date.now();
    let started: ColdStart;
    let sidecar: InstanceSidecar | undefined;
    let prefetching = false;
    try {
      sidecar = await this.startSidecar?.(req, runDir);
      // the sidecar (root) made qp.sock; connecting needs write permission on it, in a folder only
      // the function's uid (and root) can enter
      if (sidecar && uid !== undefined) {
        await chown(join(runDir, 'qp.sock'), uid, uid);
        // the gRPC egress (xdt/sidecar/grpc-egress.ts), when this sidecar serves one
        await chown(join(runDir, GRPC_EGRESS_SOCKET), uid, uid).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT') throw e;
        });
      }
      // the pull of the event's object overlaps the cold start (thesis §6.4.1)
      prefetching = req.prefetch !== undefined && sidecar?.prefetch(Buffer.from(req.prefetch.body, 'utf8'), req.prefetch.contentType) === true;
      // an image function's root: its layers assembled for the function's uid, once per image and uid
      const image = req.manifest.image;
      if (image && !this.images) throw new Error(`worker ${this.opts.workerId} has no image store; cannot start image function ${req.functionName}`);
      const rootfs = image ? await this.images!.rootfs(image.id, uid ?? SANDBOX_UID_BASE, image.workingDir) : undefined;
      const spec: InstanceSpec = {
        instanceId: req.instanceId,
        manifest: req.manifest,
        functionDir: req.functionDir,
        runDir,
        logFile: join(logDir, `${req.instanceId}.log`),
        coldStart: req.coldStart ?? 'boot',
        version: req.version,
        ...(uid !== undefined ? { uid, gid: uid } : {}),
        ...(rootfs ? { rootfs } : {}),
      };
      // The mode actually used comes back with the instance (snapshot modes fall back to boot).
      started = await this.starter.start(spec);
    } catch (err) {
      this.committedMB -= memoryMB;
      await sidecar?.close().catch(() => {});
      this.starting.delete(runDir);
      await this.removeRunDir(runDir);
      throw err;
    }
    const { instance, mode, stats: snapshot, phases } = started;
    this.running.set(req.instanceId, { instance, monitorStats: started.monitorStats, sidecar, functionName: req.functionName, memoryMB, runDir });
    this.starting.delete(runDir);
    void instance.exited.then((info) => this.release(req.instanceId, info));
    return {
      instanceId: req.instanceId,
      socketPath: instance.socketPath,
      pid: instance.pid,
      timings: instance.timings,
      phases: phases ?? instance.phases ?? [{ name: SpanNames.sandboxStart, startEpochMs: startedAt, endEpochMs: Date.now() }],
      mode,
      ...(snapshot ? { snapshot } : {}),
      ...(prefetching ? { prefetching } : {}),
    };
  }

  /**
   * Stops an instance. An object an instance produced lives only as long as the instance (XDT), so
   * unless forced, the stop waits until its objects were retrieved or expired.
   */
  /** The instance answered its first invocation (the control plane says so); gone already is fine. */
  async firstServed(instanceId: string): Promise<void> {
    const r = this.running.get(instanceId);
    if (!r) return;
    await r.instance.firstServed?.();
    r.firstServed = true;
  }

  async stop(instanceId: string, force = false): Promise<ExitInfo | undefined> {
    // a start still waiting for a slot is no longer wanted: it leaves the queue without running
    if (this.admission.cancel(instanceId)) return undefined;
    const r = this.running.get(instanceId);
    if (!r) return undefined;
    if (!force && r.sidecar) {
      const until = Date.now() + this.objectTtlMs;
      while (r.sidecar.pendingObjects() > 0 && Date.now() < until && this.running.has(instanceId)) {
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    return r.instance.stop(2000);
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.running.keys()].map((id) => this.stop(id, true)));
    // the instances' run-folder mounts must not outlive the worker, not even those of starts
    // still under way (their launchers die with the worker)
    await Promise.allSettled([...this.cleanups, ...[...this.starting].map((d) => this.removeRunDir(d))]);
  }

  async stats(): Promise<WorkerStats> {
    const instances = await Promise.all(
      [...this.running.entries()].map(async ([instanceId, r]) => ({
        instanceId,
        functionName: r.functionName,
        memoryBytes: await r.instance.memoryUsage().catch(() => 0),
        ...(r.monitorStats ? { monitor: await r.monitorStats() } : {}),
        ...(r.firstServed ? { firstServed: true } : {}),
      })),
    );
    return {
      workerId: this.opts.workerId,
      pid: process.pid,
      memoryBudgetMB: this.opts.memoryBudgetMB,
      memoryCommittedMB: this.committedMB,
      starts: this.admission.stats(),
      instances,
    };
  }

  private release(instanceId: string, info: ExitInfo): void {
    const r = this.running.get(instanceId);
    if (!r) return;
    this.running.delete(instanceId);
    this.committedMB -= r.memoryMB;
    void r.sidecar?.close().catch(() => {});
    const cleanup = this.removeRunDir(r.runDir).catch(() => {});
    this.cleanups.add(cleanup);
    void cleanup.finally(() => this.cleanups.delete(cleanup));
    this.onExit(instanceId, info);
  }

  private async removeRunDir(runDir: string): Promise<void> {
    if (this.uids) await unmountRunDir(runDir);
    await rm(runDir, { recursive: true, force: true });
  }
}

