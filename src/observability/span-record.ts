/**
 * The plain-JSON shape a finished span takes once it leaves OpenTelemetry: what the trace store
 * keeps on disk, what `GET /v1/traces/ID` returns, what the CLI and the dashboard draw. Times are
 * epoch milliseconds (fractional) so records from several processes line up on one axis.
 */
import type { AttributeValue } from '../core/trace.js';
export type { AttributeValue };

export interface SpanEventRecord {
  name: string;
  timeMs: number;
  attributes?: Record<string, AttributeValue>;
}

export interface SpanRecord {
  traceId: string;
  spanId: string;
  /** Absent on a trace's root span. */
  parentSpanId?: string;
  name: string;
  startMs: number;
  durationMs: number;
  status: 'unset' | 'ok' | 'error';
  statusMessage?: string;
  /** The process that recorded the span, e.g. `control-plane`. */
  service: string;
  attributes: Record<string, AttributeValue>;
  events?: SpanEventRecord[];
}

/** One line of a trace listing: enough to pick a trace without fetching its spans. */
export interface TraceSummary {
  traceId: string;
  /** Invocation ids of every invocation in the trace (a chain has several); the first is the entry. */
  invocationIds: string[];
  /** Function of the entry invocation. */
  function?: string;
  functions: string[];
  startMs: number;
  durationMs: number;
  spanCount: number;
  error: boolean;
  cold: boolean;
}

/** The spans of one trace in causal order: each parent, then its children by start time. */
export interface TraceRecord {
  traceId: string;
  summary: TraceSummary;
  spans: SpanRecord[];
}
