import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type {
  LedgerReply,
  StartRequest,
  StartedInstance,
  WorkerConfig,
  WorkerMessage,
  WorkerRequest,
  WorkerStats,
} from '../worker/protocol.js';
import type { ExitInfo } from '../sandbox/backend.js';
import { MemoryLedger } from '../transfer/retrieval-ledger.js';

type DistributiveOmit<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;

// Always the compiled worker, also when the control plane itself runs from TypeScript sources (tests).
const WORKER_MAIN = join(fileURLToPath(new URL('../..', import.meta.url)), 'dist', 'worker', 'main.js');

/** Error reported by a worker for one request; `type` is e.g. `NoCapacity` or `SandboxStartError`. */
export class WorkerError extends Error {
  constructor(
    message: string,
    readonly type: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'WorkerError';
  }
}

/**
 * The control plane's handle on one worker process. Emits `instance-exit` (instanceId, ExitInfo)
 * and `dead` (when the worker process itself is gone; every pending request is rejected then).
 */
export class WorkerHandle extends EventEmitter {
  private child?: ChildProcess;
  private nextReqId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  alive = false;

  constructor(
    readonly config: WorkerConfig,
    private readonly log: (level: 'info' | 'warn' | 'error', msg: string) => void,
    /** the platform's one ledger of inline and storage retrievals, shared by every worker */
    private readonly ledger: MemoryLedger = new MemoryLedger(),
  ) {
    super();
  }

  get id(): string {
    return this.config.workerId;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async spawn(): Promise<void> {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    // The config holds the XDT seal key, the invoke token and the Redis password: it travels over the
    // IPC channel (an inherited descriptor) as the first message, never in argv or the environment,
    // which any local user can read in /proc/<pid>/cmdline and (for argv) ps.
    const child = fork(WORKER_MAIN, [], {
      env,
      // Whatever a worker prints goes to stderr: stdout may be a report (`hivelab coldstart --json`).
      // Its log lines come over IPC and go through the platform's log, which honours `quiet`.
      stdio: ['ignore', 2, 2, 'ipc'],
      serialization: 'advanced',
    });
    this.child = child;
    child.send({ op: 'configure', config: this.config });
    await new Promise<void>((resolve, reject) => {
      const onMsg = (m: WorkerMessage): void => {
        if ('event' in m && m.event === 'ready') {
          child.off('exit', onEarlyExit);
          resolve();
        }
      };
      const onEarlyExit = (code: number | null, signal: string | null): void =>
        reject(new Error(`worker ${this.id} exited during start-up (code ${code}, signal ${signal})`));
      child.on('message', onMsg);
      child.once('exit', onEarlyExit);
    });
    this.alive = true;
    child.on('message', (m: WorkerMessage) => this.onMessage(m));
    child.on('exit', (code, signal) => {
      this.alive = false;
      const err = new WorkerError(`worker ${this.id} died (code ${code}, signal ${signal})`, 'WorkerDied');
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      this.emit('dead', { code, signal });
    });
  }

  private onMessage(m: WorkerMessage): void {
    if ('event' in m) {
      if (m.event === 'exit') this.emit('instance-exit', m.instanceId, m.info);
      else if (m.event === 'log') this.log(m.level, `[${this.id}] ${m.message}`);
      else if (m.event === 'ledger-claim') {
        const reply: LedgerReply = { op: 'ledger-reply', seq: m.seq, ok: this.ledger.take(m.id, m.n, m.e) };
        if (this.child?.connected) this.child.send(reply);
      }
      return;
    }
    const p = this.pending.get(m.reqId);
    if (!p) return;
    this.pending.delete(m.reqId);
    if (m.ok) p.resolve(m.result);
    else p.reject(new WorkerError(m.error.message, m.error.type ?? 'Error', m.error.detail));
  }

  private request<T>(req: DistributiveOmit<WorkerRequest, 'reqId'>): Promise<T> {
    if (!this.alive || !this.child?.connected) {
      return Promise.reject(new WorkerError(`worker ${this.id} is not running`, 'WorkerDied'));
    }
    const reqId = this.nextReqId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(reqId, { resolve: resolve as (v: unknown) => void, reject });
      this.child!.send({ ...req, reqId } as WorkerRequest);
    });
  }

  startInstance(req: Omit<StartRequest, 'op' | 'reqId'>): Promise<StartedInstance> {
    return this.request<StartedInstance>({ op: 'start', ...req });
  }

  stopInstance(instanceId: string, force = false): Promise<ExitInfo | null> {
    return this.request<ExitInfo | null>({ op: 'stop', instanceId, force });
  }

  firstServed(instanceId: string): Promise<void> {
    return this.request<void>({ op: 'first-served', instanceId });
  }

  stats(): Promise<WorkerStats> {
    return this.request<WorkerStats>({ op: 'stats' });
  }

  /** Stops the worker and (through its shutdown handler) all of its instances. */
  async shutdown(timeoutMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  /** For failure experiments and tests: kill the worker process outright. */
  kill(): void {
    this.child?.kill('SIGKILL');
  }
}
