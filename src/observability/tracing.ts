import { randomBytes } from 'node:crypto';
import { ROOT_CONTEXT, TraceFlags, trace, type Context, type Tracer } from '@opentelemetry/api';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { SampledInvocation, TRACING_OFF, UnsampledInvocation, type Attributes, type InvocationTrace } from './invocation-trace.js';
import { Attr, SpanNames } from './semantic.js';
import { toSpanRecord } from './span-convert.js';
import { TraceStore } from './trace-store.js';
import { formatTraceparent, parseTraceparent } from './traceparent.js';

export interface TracingConfig {
  /** Fraction of invocations traced, 0..1. 0 turns tracing off (no spans, no exporters). */
  sampleRate: number;
  /** Zipkin v2 JSON endpoint, e.g. http://127.0.0.1:9411/api/v2/spans. */
  zipkinUrl?: string;
  /** OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces. */
  otlpUrl?: string;
  /** Folder of the built-in store (`<state>/traces`); omit to keep traces in memory only. */
  storeDir?: string;
  /** Traces the built-in store keeps; default 1000. */
  storeMaxTraces?: number;
  /** `service.name` of this process's spans; default `hivelab`. */
  serviceName?: string;
  /** Told when an external collector could not take a flush; spans for it are then lost, never retried. */
  onExportError?: (err: Error) => void;
}

/** Feeds every ended span into the built-in store synchronously, so a trace can be read the moment its invocation returns. */
class StoreProcessor implements SpanProcessor {
  constructor(private readonly store: TraceStore) {}
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    this.store.add(toSpanRecord(span));
  }
  forceFlush(): Promise<void> {
    return this.store.flush();
  }
  shutdown(): Promise<void> {
    return this.store.close();
  }
}

/**
 * The process's tracer: created once from config, then `startInvocation` per request. The trace
 * store always exists (even with sampling off) so `GET /v1/traces` can serve what the disk holds.
 */
export class Tracing {
  private readonly provider: BasicTracerProvider | undefined;
  private readonly tracer: Tracer | undefined;
  readonly sampleRate: number;

  private readonly onExportError: (err: Error) => void;

  private constructor(config: TracingConfig, readonly store: TraceStore) {
    this.onExportError = config.onExportError ?? (() => {});
    const rate = Number.isFinite(config.sampleRate) ? Math.min(1, Math.max(0, config.sampleRate)) : 0;
    this.sampleRate = rate;
    if (rate === 0) return;
    const serviceName = config.serviceName ?? 'hivelab';
    const spanProcessors: SpanProcessor[] = [new StoreProcessor(store)];
    // External collectors get batches off the hot path; a slow or absent collector only drops spans.
    if (config.zipkinUrl) spanProcessors.push(new BatchSpanProcessor(new ZipkinExporter({ url: config.zipkinUrl, serviceName }), { scheduledDelayMillis: 500, exportTimeoutMillis: 5000 }));
    if (config.otlpUrl) spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: config.otlpUrl }), { scheduledDelayMillis: 500, exportTimeoutMillis: 5000 }));
    this.provider = new BasicTracerProvider({
      // Sampling is decided in startInvocation before any span exists; the SDK records all it is given.
      sampler: new AlwaysOnSampler(),
      resource: resourceFromAttributes({ 'service.name': serviceName }),
      spanProcessors,
    });
    this.tracer = this.provider.getTracer('hivelab');
  }

  static async create(config: TracingConfig): Promise<Tracing> {
    const store = await TraceStore.open({ dir: config.storeDir, maxTraces: config.storeMaxTraces ?? 1000 });
    return new Tracing(config, store);
  }

  get enabled(): boolean {
    return this.tracer !== undefined;
  }

  /**
   * Begins the trace of one invocation. An incoming `traceparent` (HTTP header from a client, or
   * from a function's `context.invoke`) is honoured: its trace is continued and its sampling
   * decision kept, so a chain of functions becomes one trace.
   */
  startInvocation(functionName: string, invocationId: string, incomingTraceparent?: string | string[], attrs?: Attributes): InvocationTrace {
    const tracer = this.tracer;
    if (tracer === undefined) return TRACING_OFF;
    const parent = incomingTraceparent === undefined ? undefined : parseTraceparent(incomingTraceparent);
    let sampled: boolean;
    if (parent) sampled = parent.sampled;
    else sampled = this.sampleRate >= 1 || Math.random() < this.sampleRate;
    if (!sampled) {
      return new UnsampledInvocation(
        parent ? formatTraceparent(parent.traceId, parent.spanId, false) : () => formatTraceparent(randomBytes(16).toString('hex'), randomBytes(8).toString('hex'), false),
      );
    }
    let ctx: Context = ROOT_CONTEXT;
    if (parent) ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: parent.traceId, spanId: parent.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
    return new SampledInvocation(tracer, SpanNames.invocation, ctx, { [Attr.function]: functionName, [Attr.invocationId]: invocationId, ...attrs });
  }

  /** Pushes buffered spans to the store's file and the external collectors. */
  async flush(): Promise<void> {
    // A collector being down must not fail the caller (an invocation, or the platform's shutdown).
    if (this.provider) await this.provider.forceFlush().catch(this.onExportError);
    await this.store.flush();
  }

  async shutdown(): Promise<void> {
    if (this.provider) await this.provider.shutdown().catch(this.onExportError);
    await this.store.close();
  }
}
