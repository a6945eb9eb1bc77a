/**
 * What the dashboard needs to know about the running platform, and nothing about how the platform
 * keeps it. `ControlPlaneView` (control-plane-view.ts) implements `PlatformView` over the control
 * plane's state; the dashboard renders whatever it returns, so the page works the same against the
 * real platform and a test's state.
 */
import type { ServiceStatus } from '../services/managed-process.js';

import type { InstanceState as ControlInstanceState } from '../control/instance-state.js';
import type { SnapshotStats } from '../coldstart/stats.js';

/**
 * An instance's state as the control plane keeps it (control/instance-record.ts), less `dead`:
 * the dashboard shows live instances only.
 */
export type InstanceState = Exclude<ControlInstanceState, 'dead'>;

export interface InstanceView {
  id: string;
  state: InstanceState;
  /** How the instance came up: boot | snapshot | lazy | reap. */
  coldStartMode?: string;
  /** Epoch ms. */
  startedAt?: number;
  /** Requests in flight at the instance. */
  inFlight?: number;
  /** Invocations served so far. */
  invocations?: number;
}

export interface FunctionView {
  name: string;
  version?: string;
  runtime?: string;
  /** The function's cold-start mode (`reap→boot` where the configured one cannot work here). */
  coldStartMode?: string;
  /** Why the function boots instead of its configured mode. */
  coldStartFallback?: string;
  /** Requests the activator holds waiting for an instance. */
  queued?: number;
  instances: InstanceView[];
}

/** One autoscaler tick: what it wanted, what existed, whether it was panicking. */
export interface ScalePoint {
  /** Epoch ms. */
  time: number;
  desired: number;
  actual: number;
  panic: boolean;
}

/** Snapshot and working-set figures (owned by the cold-start coordinator, which counts them). */
export type { SnapshotStats };

/** Something changed (instance started, became ready, scaled, deployed...): the page refreshes. */
export interface PlatformEvent {
  /** e.g. `instance.starting`, `instance.ready`, `instance.stopped`, `scale`, `deploy`. */
  type: string;
  /** Epoch ms. */
  time: number;
  function?: string;
  instance?: string;
  message?: string;
}

export interface PlatformView {
  functions(): FunctionView[];
  /** Oldest first; the dashboard draws the last few minutes. */
  scaleHistory(functionName: string): ScalePoint[];
  snapshotStats(functionName: string): SnapshotStats | undefined;
  /** Whether snapshot cold starts work on this machine (absent: they do). */
  snapshotSupport?(): { available: boolean; reason?: string };
  /** The data services' supervision state (Redis, the S3 server); none when they are not run. */
  services?(): ServiceStatus[];
  /** Subscribes to platform events; returns the unsubscribe function. */
  onEvent(listener: (event: PlatformEvent) => void): () => void;
}
