import { EventEmitter } from 'node:events';
import type { ControlPlane } from './control-plane.js';
import type { ControllerEvent } from './function-controller.js';
import type { FunctionView, InstanceState, PlatformEvent, PlatformView } from '../dashboard/platform-view.js';
import type { SnapshotStats } from '../coldstart/stats.js';
import { ScaleHistory } from '../dashboard/scale-history.js';

/** Platform-wide events: the controllers', plus worker ups and downs. */
export type PlatformBusEvent = ControllerEvent | { type: 'worker'; workerId: string; state: 'up' | 'dead' };

/**
 * The dashboard's window onto the control plane: it reads the controllers' live state and turns the
 * control plane's events into the dashboard's vocabulary.
 */
export class ControlPlaneView implements PlatformView {
  private readonly bus = new EventEmitter();
  readonly scale = new ScaleHistory();
  private readonly snapshots = new Map<string, SnapshotStats>();
  control?: ControlPlane;

  constructor() {
    this.bus.setMaxListeners(0);
  }

  /** Fed by the control plane for every lifecycle event. */
  publish(e: PlatformBusEvent): void {
    if (e.type === 'invocation') return; // counted by metrics; too frequent for the event feed
    const event: PlatformEvent =
      e.type === 'instance'
        ? { type: `instance.${e.state}`, time: Date.now(), function: e.functionName, instance: e.instanceId, message: e.detail }
        : { type: `worker.${e.state}`, time: Date.now(), message: e.workerId };
    this.bus.emit('event', event);
  }

  setSnapshotStats(fn: string, stats: SnapshotStats): void {
    this.snapshots.set(fn, { ...this.snapshots.get(fn), ...stats });
  }

  functions(): FunctionView[] {
    if (!this.control) return [];
    return this.control.listControllers().map((c) => ({
      name: c.name,
      version: c.deployment.version,
      runtime: c.deployment.manifest.runtime,
      ...this.coldStart(c.deployment),
      queued: c.bufferedCount,
      instances: c.instances
        .filter((i) => i.state !== 'dead')
        .map((i) => ({
          id: i.id,
          state: (i.state === 'draining' ? 'stopping' : i.state) as InstanceState,
          coldStartMode: i.mode,
          startedAt: i.createdAt,
          inFlight: i.inFlight,
          invocations: i.served,
        })),
    }));
  }

  private coldStart(d: Parameters<NonNullable<ControlPlaneView['control']>['coldStartOf']>[0]): Pick<FunctionView, 'coldStartMode' | 'coldStartFallback'> {
    const c = this.control!.coldStartOf(d);
    return { coldStartMode: c.mode === c.configured ? c.mode : `${c.configured}→${c.mode}`, ...(c.fallback ? { coldStartFallback: c.fallback } : {}) };
  }

  snapshotSupport() {
    return this.control?.snapshots ?? { available: true };
  }

  scaleHistory(functionName: string) {
    return this.scale.points(functionName);
  }

  snapshotStats(functionName: string): SnapshotStats | undefined {
    return this.snapshots.get(functionName);
  }

  onEvent(listener: (event: PlatformEvent) => void): () => void {
    this.bus.on('event', listener);
    return () => this.bus.off('event', listener);
  }
}
