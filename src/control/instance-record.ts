import type { ExitInfo, StartTimings } from '../sandbox/backend.js';
import type { QueueProxy } from '../queue-proxy/queue-proxy.js';
import type { WorkerHandle } from './worker-handle.js';
import type { PhaseTiming } from '../observability/semantic.js';

import type { InstanceState } from './instance-state.js';

export type { InstanceState };

/** The control plane's view of one instance. */
export class InstanceRecord {
  state: InstanceState = 'starting';
  qp?: QueueProxy;
  /** Slots promised to invocations released from the activator but not yet inside the queue-proxy. */
  reserved = 0;
  readonly createdAt = Date.now();
  readyAt?: number;
  lastActive = Date.now();
  served = 0;
  mode = 'boot';
  timings?: StartTimings;
  phases?: PhaseTiming[];
  /** Its sidecar pulled the object of the invocation it was started for while it started. */
  prefetching = false;
  pid?: number;
  exitInfo?: ExitInfo;
  workerDied = false;
  private settleExit!: (info: ExitInfo) => void;
  /** Settles when the instance is gone (its worker reported the exit or died). */
  readonly exited = new Promise<ExitInfo>((r) => (this.settleExit = r));

  constructor(
    readonly id: string,
    readonly functionName: string,
    readonly version: string,
    readonly worker: WorkerHandle,
    readonly concurrency: number,
  ) {}

  /** Invocations inside its queue-proxy. */
  get admitted(): number {
    return this.qp?.inFlight ?? 0;
  }

  get inFlight(): number {
    return this.admitted + this.reserved;
  }

  get capacity(): number {
    return this.state === 'ready' || this.state === 'busy' ? this.concurrency : 0;
  }

  markDead(info: ExitInfo): void {
    if (this.state === 'dead') return;
    this.state = 'dead';
    this.exitInfo = info;
    void this.qp?.close();
    this.settleExit(info);
  }
}
