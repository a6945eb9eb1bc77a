/**
 * Observability for the control plane and the worker: invocation tracing (OpenTelemetry, W3C
 * traceparent, built-in store plus Zipkin and OTLP exporters) and Prometheus metrics.
 *
 * Per process:    const tracing = await Tracing.create({ sampleRate, storeDir, ... });
 *                 const metrics = new PlatformMetrics();
 * Per invocation: const inv = tracing.startInvocation(fn, invocationId, req.headers.traceparent);
 *                 await inv.span(SpanNames.activatorQueue, () => acquire());
 *                 headers.traceparent = inv.traceparent(processSpan);   // into the runtime
 *                 inv.end(ok ? 'ok' : 'error');  metrics.recordInvocation(fn, instance, ms, outcome, cold);
 */
export { Tracing, type TracingConfig } from './tracing.js';
export type { InvocationTrace, TraceSpan, Attributes, SpanStatus } from './invocation-trace.js';
export { SpanNames, Attr, type PhaseTiming } from './semantic.js';
export { addPhaseTimings, addStartTimings } from './phase-timings.js';
export { parseTraceparent, formatTraceparent, type ParentContext } from './traceparent.js';
export { TraceStore } from './trace-store.js';
export type { SpanRecord, TraceRecord, TraceSummary } from './span-record.js';
export { MetricsRegistry, Counter, Gauge, Histogram, PROMETHEUS_CONTENT_TYPE, LATENCY_BUCKETS_SECONDS } from './metrics.js';
export { PlatformMetrics, type InvocationOutcome, type ScalingDecision } from './platform-metrics.js';
export { RollingWindow, type LiveStats } from './rolling-window.js';
export { renderWaterfall } from './waterfall-text.js';
