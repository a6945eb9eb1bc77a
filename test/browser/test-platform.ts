import type { FunctionView, InstanceState, PlatformEvent, PlatformView, ScalePoint, SnapshotStats } from '../../src/dashboard/platform-view.js';

/**
 * A platform state the test drives by hand: it is the provider side of the dashboard's seam, and
 * the page must render whatever it holds (the lead's control plane implements the same interface).
 */
export class TestPlatform implements PlatformView {
  readonly fns = new Map<string, FunctionView>();
  readonly scale = new Map<string, ScalePoint[]>();
  readonly snapshots = new Map<string, SnapshotStats>();
  private readonly listeners = new Set<(e: PlatformEvent) => void>();

  functions(): FunctionView[] {
    return [...this.fns.values()].map((f) => ({ ...f, instances: f.instances.map((i) => ({ ...i })) }));
  }
  scaleHistory(name: string): ScalePoint[] {
    return this.scale.get(name) ?? [];
  }
  snapshotStats(name: string): SnapshotStats | undefined {
    return this.snapshots.get(name);
  }
  onEvent(listener: (e: PlatformEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  get listenerCount(): number {
    return this.listeners.size;
  }

  emit(e: Omit<PlatformEvent, 'time'>): void {
    for (const l of this.listeners) l({ time: Date.now(), ...e });
  }

  deploy(name: string, mode = 'reap'): void {
    this.fns.set(name, { name, version: 'a1b2c3', runtime: 'node', coldStartMode: mode, instances: [] });
    this.emit({ type: 'deploy', function: name });
  }

  setInstance(fn: string, id: string, state: InstanceState): void {
    const f = this.fns.get(fn)!;
    const existing = f.instances.find((i) => i.id === id);
    if (existing) existing.state = state;
    else f.instances.push({ id, state, coldStartMode: f.coldStartMode, startedAt: Date.now(), invocations: 0 });
    this.emit({ type: `instance.${state}`, function: fn, instance: id });
  }
}
