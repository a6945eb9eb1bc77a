import { SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { AttributeValue } from './span-record.js';
import { formatTraceparent } from './traceparent.js';

export type Attributes = Record<string, AttributeValue | undefined>;
export type SpanStatus = 'ok' | 'error';

/** One phase of an invocation. Ending twice is harmless (the first end wins). */
export interface TraceSpan {
  readonly recording: boolean;
  setAttribute(key: string, value: AttributeValue): void;
  setAttributes(attrs: Attributes): void;
  addEvent(name: string, attrs?: Attributes): void;
  end(status?: SpanStatus, message?: string): void;
  /** W3C traceparent naming this span as the parent: hand it to the next hop. */
  traceparent(): string | undefined;
}

/**
 * The trace of one invocation, created by `Tracing.startInvocation`. Every phase the control plane
 * times goes through it; when the invocation is not sampled all of this is a shared no-op object,
 * so the warm path allocates nothing for tracing.
 */
export interface InvocationTrace {
  readonly sampled: boolean;
  readonly traceId: string | undefined;
  /** The invocation's root span. */
  readonly root: TraceSpan;
  /** Runs `fn` inside a child span (of `parent`, default the root); ends it when `fn` returns or settles. */
  span<T>(name: string, fn: (span: TraceSpan) => T, attrs?: Attributes, parent?: TraceSpan): T;
  startSpan(name: string, attrs?: Attributes, parent?: TraceSpan): TraceSpan;
  /**
   * A span timed elsewhere (e.g. the worker's sandbox restore), given as epoch milliseconds, so
   * other processes report plain numbers instead of running their own tracer.
   */
  addCompletedSpan(name: string, startEpochMs: number, endEpochMs: number, attrs?: Attributes, parent?: TraceSpan, status?: SpanStatus): TraceSpan;
  setAttributes(attrs: Attributes): void;
  /** traceparent for the runtime (`parent` default: the root span). */
  traceparent(parent?: TraceSpan): string | undefined;
  /** Ends the root span; spans still open are ended with it, so a crash path cannot leak them. */
  end(status?: SpanStatus, message?: string): void;
}

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

