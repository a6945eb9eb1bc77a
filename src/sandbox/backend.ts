import type { ColdStartMode, FunctionManifest } from '../manifest/schema.js';
import type { PhaseTiming } from '../observability/semantic.js';

/**
 * The seam between the instance manager and whatever isolates an instance (namespaced process,
 * CRIU restore, later a microVM). The worker never cares how an instance came to be: it only needs
 * its invocation socket and a way to learn when it dies and why.
 */

/** Everything a backend needs to start one instance of a deployed function. */
export interface InstanceSpec {
  /** Unique instance id, e.g. `hello-node-3f9a1c`. */
  instanceId: string;
  manifest: FunctionManifest;
  /** Host path of the deployed function folder (mounted read-only at /var/task inside). */
  functionDir: string;
  /** Host folder private to this instance: holds `fn.sock` (runtime) and `qp.sock` (sidecar); mounted at /run/hivelab. */
  runDir: string;
  /** Host file that receives the instance's stdout and stderr. */
  logFile: string;
  /** Extra environment for the runtime (on top of the manifest's `env`). */
  env?: Record<string, string>;
  /** How the instance should come to be (default `boot`); src/coldstart decides what it gets. */
  coldStart?: ColdStartMode;
  /** The deployed version: snapshots are per version. */
  version?: string;
  /**
   * The function's unprivileged uid (and gid, default the same) the runtime runs as; one per
   * function, from the worker's `SandboxUids` (docs/SANDBOX.md). Default: the range's first uid.
   */
  uid?: number;
  gid?: number;
  /** Host path of an OCI image's unpacked root, used as `/` instead of the host skeleton (no host /usr, /etc). */
  rootfs?: string;
  /** Size of the instance's private /tmp (default: `tmpSizeBytes(memoryMB)` in launch.ts). */
  tmpSizeBytes?: number;
}

/** Why an instance stopped. `oom`: killed by the memory cgroup; `crash`: exited or died on its own. */
export type ExitReason = 'stopped' | 'oom' | 'crash' | 'start-failed' | 'monitor-died';

export interface ExitInfo {
  reason: ExitReason;
  code: number | null;
  signal: string | null;
  /** Human-readable detail, e.g. the last lines of the instance log on a failed start. */
  detail?: string;
}

/** Timings of the start, for cold-start breakdowns and traces (milliseconds). */
export interface StartTimings {
  /** Sandbox creation up to the runtime signalling readiness (boot), or restore time. */
  startMs: number;
  [phase: string]: number;
}

/** A running instance as a backend hands it to the worker. */
export interface SandboxInstance {
  readonly instanceId: string;
  /** Host path of the runtime's Unix socket (HTTP/1.1: `POST /invoke`). */
  readonly socketPath: string;
  /** Host PID of the sandbox's outermost process (for cgroup stats and CRIU). */
  readonly pid: number;
  readonly timings: StartTimings;
  /** The start's phases with wall-clock times, for the invocation trace (restore, WS fetch/install, …). */
  readonly phases?: PhaseTiming[];
  /** Settles once, when the instance is gone for whatever reason. */
  readonly exited: Promise<ExitInfo>;
  /** Resident memory charged to the instance's cgroup, in bytes (0 when unknown). */
  memoryUsage(): Promise<number>;
  /** Stops the instance (SIGKILL after `graceMs`) and releases its cgroup; idempotent. */
  stop(graceMs?: number): Promise<ExitInfo>;
  /** Told once, when the instance has answered its first invocation (a REAP prefetch checks its prediction). */
  firstServed?(): Promise<void>;
}

export interface SandboxBackend {
  readonly name: string;
  /** Starts an instance and resolves once its runtime accepts invocations. */
  start(spec: InstanceSpec): Promise<SandboxInstance>;
}

/** Thrown when an instance cannot be started; `detail` carries its log tail. */
export class SandboxStartError extends Error {
  constructor(
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'SandboxStartError';
  }
}
