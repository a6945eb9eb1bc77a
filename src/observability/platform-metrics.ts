import { MetricsRegistry, type Counter, type Gauge, type Histogram } from './metrics.js';
import { RollingWindow, type LiveStats } from './rolling-window.js';

export type InvocationOutcome = 'ok' | 'error' | 'timeout' | 'overloaded';

/** What the autoscaler decided in one tick, as the dashboard charts it. */
export interface ScalingDecision {
  desired: number;
  actual: number;
  panic: boolean;
}

/**
 * The platform's metrics under their Prometheus names, plus the rolling windows behind the
 * dashboard's live numbers. The control plane calls the record methods; `/metrics` renders
 * `registry`. Per-instance series are dropped by `instanceGone` so a long run does not grow them.
 */
export class PlatformMetrics {
  readonly registry: MetricsRegistry;
  readonly invocations: Counter;
  readonly invocationDuration: Histogram;
  readonly coldStarts: Counter;
  readonly coldStartDuration: Histogram;
  readonly concurrency: Gauge;
  readonly queueLength: Gauge;
  readonly desiredScale: Gauge;
  readonly actualScale: Gauge;
  readonly panicMode: Gauge;
  readonly scalingDecisions: Counter;
  private readonly windows = new Map<string, RollingWindow>();
  private readonly totals = new Map<string, number>();

  constructor(registry = new MetricsRegistry(), private readonly windowSeconds = 10) {
    this.registry = registry;
    this.invocations = registry.counter('hivelab_invocations_total', 'Invocations completed, by function, instance and outcome.', ['function', 'instance', 'outcome', 'cold']);
    this.invocationDuration = registry.histogram('hivelab_invocation_duration_seconds', 'End-to-end invocation latency seen by the gateway.', ['function', 'cold']);
    this.coldStarts = registry.counter('hivelab_cold_starts_total', 'Instances started for a request, by cold-start mode (boot, snapshot, lazy, reap).', ['function', 'mode']);
    this.coldStartDuration = registry.histogram('hivelab_cold_start_duration_seconds', 'Time from deciding to start an instance to it being ready.', ['function', 'mode']);
    this.concurrency = registry.gauge('hivelab_instance_concurrency', 'Requests in flight at an instance.', ['function', 'instance']);
    this.queueLength = registry.gauge('hivelab_activator_queue_length', 'Requests the activator holds waiting for an instance.', ['function']);
    this.desiredScale = registry.gauge('hivelab_autoscaler_desired_instances', 'Instances the autoscaler wants.', ['function']);
    this.actualScale = registry.gauge('hivelab_autoscaler_actual_instances', 'Instances that exist (starting or ready).', ['function']);
    this.panicMode = registry.gauge('hivelab_autoscaler_panic', '1 while the autoscaler is in its panic window.', ['function']);
    this.scalingDecisions = registry.counter('hivelab_scaling_decisions_total', 'Autoscaler decisions that changed the desired scale.', ['function', 'direction']);
  }

  /** One finished invocation, as the gateway saw it. */
  recordInvocation(fn: string, instance: string | undefined, latencyMs: number, outcome: InvocationOutcome = 'ok', cold = false, nowMs = Date.now()): void {
    const c = cold ? '1' : '0';
    this.invocations.inc({ function: fn, instance: instance ?? '', outcome, cold: c });
    this.invocationDuration.observe({ function: fn, cold: c }, latencyMs / 1000);
    this.window(fn).record(latencyMs, outcome !== 'ok', nowMs);
    this.totals.set(fn, (this.totals.get(fn) ?? 0) + 1);
  }

  recordColdStart(fn: string, mode: string, durationMs: number): void {
    this.coldStarts.inc({ function: fn, mode });
    this.coldStartDuration.observe({ function: fn, mode }, durationMs / 1000);
  }

  setConcurrency(fn: string, instance: string, inFlight: number): void {
    this.concurrency.set({ function: fn, instance }, inFlight);
  }

  setQueueLength(fn: string, length: number): void {
    this.queueLength.set({ function: fn }, length);
  }

  recordScaling(fn: string, d: ScalingDecision): void {
    const before = this.desiredScale.get({ function: fn });
    if (d.desired !== before) this.scalingDecisions.inc({ function: fn, direction: d.desired > before ? 'up' : 'down' });
    this.desiredScale.set({ function: fn }, d.desired);
    this.actualScale.set({ function: fn }, d.actual);
    this.panicMode.set({ function: fn }, d.panic ? 1 : 0);
  }

  instanceGone(fn: string, instance: string): void {
    this.concurrency.remove({ function: fn, instance });
  }

  /** Total invocations of a function since start (all instances and outcomes). */
  invocationCount(fn: string): number {
    return this.totals.get(fn) ?? 0;
  }

  live(fn: string, nowMs = Date.now()): LiveStats {
    return this.window(fn).stats(nowMs);
  }

  private window(fn: string): RollingWindow {
    let w = this.windows.get(fn);
    if (!w) {
      w = new RollingWindow(this.windowSeconds);
      this.windows.set(fn, w);
    }
    return w;
  }
}
