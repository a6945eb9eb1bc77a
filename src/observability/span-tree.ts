import type { SpanRecord } from './span-record.js';

/**
 * Spans in causal order: each parent followed by its children (by start time), depth-first. Start
 * times alone are not enough: spans from different processes, or a child that starts within the
 * same millisecond as its parent, can carry a start a hair before their parent's.
 */
export function spanTree(spans: readonly SpanRecord[]): Array<{ span: SpanRecord; depth: number }> {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, SpanRecord[]>();
  const roots: SpanRecord[] = [];
  for (const s of spans) {
    if (s.parentSpanId && ids.has(s.parentSpanId)) {
      const list = children.get(s.parentSpanId) ?? [];
      list.push(s);
      children.set(s.parentSpanId, list);
    } else roots.push(s);
  }
  const byStart = (a: SpanRecord, b: SpanRecord) => a.startMs - b.startMs;
  const out: Array<{ span: SpanRecord; depth: number }> = [];
  const visit = (s: SpanRecord, depth: number) => {
    out.push({ span: s, depth });
    for (const c of (children.get(s.spanId) ?? []).sort(byStart)) visit(c, depth + 1);
  };
  for (const r of roots.sort(byStart)) visit(r, 0);
  return out;
}

