/**
 * What the dashboard needs to know about the running platform, and nothing about how the platform
 * keeps it. The control plane implements `PlatformView` over its own state; the dashboard renders
 * whatever it returns, so the page works the same against the real platform and a test's state.
 */

import type { SnapshotStats } from '../coldstart/stats.js';

/**
 * `busy`: at its concurrency limit; `draining`: finishing its requests before it stops;
 * `snapshotted`: stopped, kept as a snapshot to restore from.
 */
export type InstanceState = 'starting' | 'ready' | 'busy' | 'draining' | 'snapshotted' | 'stopping';

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
  /** Subscribes to platform events; returns the unsubscribe function. */
  onEvent(listener: (event: PlatformEvent) => void): () => void;
}
