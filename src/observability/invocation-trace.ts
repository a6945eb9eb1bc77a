import { SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { AttributeValue } from './span-record.js';
import type { Attributes, InvocationTrace, SpanStatus, TraceSpan } from '../core/trace.js';

// The seam's types live on the ground floor (core/trace.ts) so the Invocation that carries a trace
// needs nothing of OpenTelemetry; this file is their implementation.
export type { Attributes, InvocationTrace, SpanStatus, TraceSpan };
import { formatTraceparent } from './traceparent.js';

function clean(attrs: Attributes | undefined): Record<string, AttributeValue> | undefined {
  if (!attrs) return undefined;
  const out: Record<string, AttributeValue> = {};
  for (const k in attrs) {
    const v = attrs[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

class RecordingSpan implements TraceSpan {
  readonly recording = true;
  private ended = false;
  readonly context: Context;

  constructor(readonly span: Span, parent: Context, private readonly owner?: SampledInvocation) {
    this.context = trace.setSpan(parent, span);
  }

  setAttribute(key: string, value: AttributeValue): void {
    this.span.setAttribute(key, value);
  }
  setAttributes(attrs: Attributes): void {
    const c = clean(attrs);
    if (c) this.span.setAttributes(c);
  }
  addEvent(name: string, attrs?: Attributes): void {
    this.span.addEvent(name, clean(attrs));
  }
  end(status?: SpanStatus, message?: string, endTime?: number): void {
    if (this.ended) return;
    this.ended = true;
    if (status === 'error') this.span.setStatus({ code: SpanStatusCode.ERROR, ...(message ? { message } : {}) });
    else if (status === 'ok') this.span.setStatus({ code: SpanStatusCode.OK });
    this.span.end(endTime);
    this.owner?.forget(this);
  }
  get isEnded(): boolean {
    return this.ended;
  }
  traceparent(): string {
    const c = this.span.spanContext();
    return formatTraceparent(c.traceId, c.spanId, true);
  }
}

export class SampledInvocation implements InvocationTrace {
  readonly sampled = true;
  readonly root: RecordingSpan;
  private readonly open = new Set<RecordingSpan>();

  constructor(private readonly tracer: Tracer, rootName: string, parent: Context, attrs: Attributes) {
    this.root = new RecordingSpan(tracer.startSpan(rootName, { attributes: clean(attrs) }, parent), parent);
  }

  get traceId(): string {
    return this.root.span.spanContext().traceId;
  }

  private parentContext(parent: TraceSpan | undefined): Context {
    return parent instanceof RecordingSpan ? parent.context : this.root.context;
  }

  startSpan(name: string, attrs?: Attributes, parent?: TraceSpan): TraceSpan {
    const ctx = this.parentContext(parent);
    const s = new RecordingSpan(this.tracer.startSpan(name, { attributes: clean(attrs) }, ctx), ctx, this);
    this.open.add(s);
    return s;
  }

  span<T>(name: string, fn: (span: TraceSpan) => T, attrs?: Attributes, parent?: TraceSpan): T {
    const s = this.startSpan(name, attrs, parent);
    let result: T;
    try {
      result = fn(s);
    } catch (err) {
      s.end('error', (err as Error)?.message);
      throw err;
    }
    if (isThenable(result)) {
      return result.then(
        (v) => {
          s.end();
          return v;
        },
        (err: unknown) => {
          s.end('error', (err as Error)?.message);
          throw err;
        },
      ) as T;
    }
    s.end();
    return result;
  }

  addCompletedSpan(name: string, startEpochMs: number, endEpochMs: number, attrs?: Attributes, parent?: TraceSpan, status?: SpanStatus): TraceSpan {
    const ctx = this.parentContext(parent);
    const s = new RecordingSpan(this.tracer.startSpan(name, { attributes: clean(attrs), startTime: startEpochMs }, ctx), ctx);
    s.end(status, undefined, Math.max(startEpochMs, endEpochMs));
    // An ended span still names a parent: phases timed elsewhere nest under it.
    return s;
  }

  setAttributes(attrs: Attributes): void {
    this.root.setAttributes(attrs);
  }

  traceparent(parent?: TraceSpan): string {
    return parent instanceof RecordingSpan ? parent.traceparent() : this.root.traceparent();
  }

  end(status?: SpanStatus, message?: string): void {
    for (const s of this.open) s.end(status === 'error' ? 'error' : undefined, status === 'error' ? 'invocation ended' : undefined);
    this.root.end(status, message);
  }

  /** Called by a child span when it ends. */
  forget(span: RecordingSpan): void {
    this.open.delete(span);
  }
}

const NOOP_SPAN: TraceSpan = {
  recording: false,
  setAttribute() {},
  setAttributes() {},
  addEvent() {},
  end() {},
  traceparent() {
    return undefined;
  },
};

/**
 * An invocation that is not traced. It still forwards a traceparent (the caller's, or a fresh
 * unsampled one) so downstream hops of a chain make the same decision and the chain stays whole.
 */
export class UnsampledInvocation implements InvocationTrace {
  readonly sampled = false;
  readonly traceId = undefined;
  readonly root = NOOP_SPAN;

  constructor(private parentHeader: string | (() => string) | undefined) {}

  span<T>(_name: string, fn: (span: TraceSpan) => T): T {
    return fn(NOOP_SPAN);
  }
  startSpan(): TraceSpan {
    return NOOP_SPAN;
  }
  addCompletedSpan(): TraceSpan {
    return NOOP_SPAN;
  }
  setAttributes(): void {}
  traceparent(): string | undefined {
    if (typeof this.parentHeader === 'function') this.parentHeader = this.parentHeader();
    return this.parentHeader;
  }
  end(): void {}
}

/** Tracing off: one shared object, no allocation per invocation. */
export const TRACING_OFF: InvocationTrace = new UnsampledInvocation(undefined);

