import type { InvocationTrace, TraceSpan } from './invocation-trace.js';
import type { PhaseTiming } from './semantic.js';

/** Adds the worker's reported phases as children of `parent` (usually the cold-start span). */
export function addPhaseTimings(inv: InvocationTrace, timings: readonly PhaseTiming[] | undefined, parent?: TraceSpan): void {
  if (!inv.sampled || !timings) return;
  for (const t of timings) {
    inv.addCompletedSpan(t.name, t.startEpochMs, t.endEpochMs, t.error ? { ...t.attributes, 'error.message': t.error } : t.attributes, parent, t.error ? 'error' : undefined);
  }
}

/**
 * For a worker that reports only durations (`StartTimings`: `startMs` plus named phases in ms):
 * one sandbox span (start for boot, restore otherwise) beginning when the control plane asked for
 * the instance, with the other phases as attributes. Workers that know their phases' epoch times
 * should send `PhaseTiming`s instead, which place each phase exactly.
 */
export function addStartTimings(
  inv: InvocationTrace,
  requestedAtEpochMs: number,
  timings: { startMs: number; [phase: string]: number },
  mode: string,
  parent?: TraceSpan,
): void {
  if (!inv.sampled) return;
  const attrs: Record<string, number | string> = { 'hivelab.coldstart.mode': mode };
  for (const [k, v] of Object.entries(timings)) if (k !== 'startMs' && Number.isFinite(v)) attrs[`hivelab.start.${k}`] = v;
  const name = mode === 'boot' ? 'coldstart.sandbox.start' : 'coldstart.sandbox.restore';
  inv.addCompletedSpan(name, requestedAtEpochMs, requestedAtEpochMs + Math.max(0, timings.startMs), attrs, parent);
}
