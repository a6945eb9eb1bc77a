/**
 * The trace seam of one invocation: what the gateway, activator and queue-proxy call to time their
 * phases. Implemented by observability/invocation-trace.ts (OpenTelemetry); declared here so that the
 * Invocation, a ground-floor type, needs nothing above the ground floor.
 */

/** A span attribute's value (the OpenTelemetry primitive types). */
export type AttributeValue = string | number | boolean;

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
 * The trace of one invocation, created by observability's `Tracing.startInvocation`. Every phase the control plane
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

