import type { FunctionManifest, ColdStartMode } from '../manifest/schema.js';
import type { ExitInfo, StartTimings } from '../sandbox/backend.js';
import type { PhaseTiming } from '../observability/semantic.js';
import type { S3Config } from '../transfer/storage.js';
import type { RedisConfig } from '../transfer/redis-transport.js';
import type { SnapshotStats } from '../coldstart/stats.js';
import type { SnapshotSupport } from '../coldstart/availability.js';
import type { MonitorStats } from '../reap/monitor.js';
import type { AdmissionStats } from './start-admission.js';

/**
 * Messages between the control plane and a worker process (Node IPC channel). Requests carry a
 * `reqId` and get exactly one reply; instance deaths arrive as unsolicited events.
 */

export interface StartRequest {
  op: 'start';
  reqId: number;
  instanceId: string;
  functionName: string;
  version: string;
  functionDir: string;
  manifest: FunctionManifest;
  coldStart: ColdStartMode;
  /**
   * The event of the invocation this instance is started for, when it refers to an object
   * (`{"$xdt": ref}` / `{"$ref": ref}`): the sidecar starts pulling it while the runtime starts.
   */
  prefetch?: { body: string; contentType?: string };
}

export interface StopRequest {
  op: 'stop';
  reqId: number;
  instanceId: string;
  /** Stop at once even if the instance still holds XDT objects not yet retrieved (e.g. it hung). */
  force: boolean;
}

/**
 * An instance answered its first invocation. A REAP-prefetched instance checks its working set's
 * prediction then (thesis §5.4.1): the faults the first invocation took outside it, not those of
 * every later request.
 */
export interface FirstServedRequest {
  op: 'first-served';
  reqId: number;
  instanceId: string;
}

export interface StatsRequest {
  op: 'stats';
  reqId: number;
}

/** The control plane's answer to a worker's `ledger-claim` (not a request: it gets no reply). */
export interface LedgerReply {
  op: 'ledger-reply';
  seq: number;
  ok: boolean;
}

export type WorkerRequest = StartRequest | StopRequest | FirstServedRequest | StatsRequest;

export interface StartedInstance {
  instanceId: string;
  socketPath: string;
  pid: number;
  timings: StartTimings;
  phases: PhaseTiming[];
  /** The cold-start mode actually used (a snapshot mode falls back to boot when no snapshot exists yet). */
  mode: ColdStartMode | 'boot';
  /** Snapshot and working-set figures of the function after this start (snapshot modes; for the dashboard). */
  snapshot?: SnapshotStats;
  /** The sidecar began pulling the object of the start request's `prefetch` event. */
  prefetching?: boolean;
}

export interface InstanceStats {
  instanceId: string;
  functionName: string;
  memoryBytes: number;
  /** Lazily restored instances (lazy, reap): the REAP monitor's figures so far (faults served on demand, ...). */
  monitor?: MonitorStats;
  /** Its first invocation was reported and what follows it (REAP's misprediction check) is done. */
  firstServed?: boolean;
}

export interface WorkerStats {
  workerId: string;
  pid: number;
  memoryBudgetMB: number;
  memoryCommittedMB: number;
  /** Cold-start admission: the limit of starts at once, those running and waiting, the peak so far. */
  starts: AdmissionStats;
  instances: InstanceStats[];
}

export type WorkerReply =
  | { reqId: number; ok: true; result: unknown }
  | { reqId: number; ok: false; error: { message: string; detail?: string; type?: string } };

export type WorkerEvent =
  | { event: 'ready'; workerId: string }
  | { event: 'exit'; instanceId: string; info: ExitInfo }
  | { event: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  /** one retrieval of an inline or storage reference, counted in the platform's ledger */
  | { event: 'ledger-claim'; seq: number; id: string; n: number; e: number };

export type WorkerMessage = WorkerReply | WorkerEvent;

/** How the control plane configures a worker process (its first IPC message; it holds secrets). */
export interface WorkerConfig {
  workerId: string;
  stateDir: string;
  memoryBudgetMB: number;
  /** Instance starts in progress at once on this worker (default: the CPUs it may use). */
  maxStarting?: number;
  /** Repository root: the runtime shims live under `<root>/dist/runtime`. */
  rootDir: string;
  /** Whether snapshot cold starts work here (the platform probed it at start-up). */
  snapshots?: SnapshotSupport;
  gatewayUrl: string;
  invokeToken: string;
  /** Transfer services: the XDT seal key (hex, the same on every worker) and the data services. */
  transfers: {
    sealKeyHex: string;
    s3?: S3Config;
    redis?: RedisConfig;
    pool: { buffers: number; bufferBytes: number };
    inlineLimitBytes: number;
  };
}
