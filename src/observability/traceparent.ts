/**
 * W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/): the one header that
 * carries a trace from the gateway into the runtime and back out through `context.invoke`, so a
 * chain of functions is one trace. Parsed by hand: it is on the hot path and the grammar is tiny.
 */
export interface ParentContext {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** Returns undefined for anything malformed: a bad header starts a new trace, never fails a request. */
export function parseTraceparent(header: string | string[] | undefined): ParentContext | undefined {
  if (Array.isArray(header)) header = header[0];
  if (!header) return undefined;
  const m = TRACEPARENT.exec(header.trim().toLowerCase());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags] = m as unknown as [string, string, string, string, string];
  // Version ff is forbidden; version 00 must not carry extra fields.
  if (version === 'ff' || (version === '00' && header.trim().length !== 55)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}
