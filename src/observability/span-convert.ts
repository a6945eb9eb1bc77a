import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import type { AttributeValue, SpanRecord } from './span-record.js';

/** Keeps only attribute values JSON and the dashboard can show; arrays become comma lists. */
function plainAttributes(attrs: ReadableSpan['attributes']): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    out[k] = Array.isArray(v) ? v.join(',') : (v as AttributeValue);
  }
  return out;
}

/** An OpenTelemetry span, once ended, as the store's plain record. */
export function toSpanRecord(span: ReadableSpan): SpanRecord {
  const ctx = span.spanContext();
  const code = span.status.code;
  const record: SpanRecord = {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    name: span.name,
    startMs: hrTimeToMilliseconds(span.startTime),
    durationMs: hrTimeToMilliseconds(span.duration),
    status: code === SpanStatusCode.ERROR ? 'error' : code === SpanStatusCode.OK ? 'ok' : 'unset',
    service: String(span.resource.attributes['service.name'] ?? 'hivelab'),
    attributes: plainAttributes(span.attributes),
  };
  if (span.parentSpanContext?.spanId) record.parentSpanId = span.parentSpanContext.spanId;
  if (span.status.message) record.statusMessage = span.status.message;
  if (span.events.length > 0) {
    record.events = span.events.map((e) => ({
      name: e.name,
      timeMs: hrTimeToMilliseconds(e.time),
      ...(e.attributes ? { attributes: plainAttributes(e.attributes) } : {}),
    }));
  }
  return record;
}
