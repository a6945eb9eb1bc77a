import { h, ms } from './dom.js';

// Spans in causal order (parent, then its children by start), with depth, as the CLI draws them.
export function spanTree(spans) {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    if (s.parentSpanId && ids.has(s.parentSpanId)) {
      if (!children.has(s.parentSpanId)) children.set(s.parentSpanId, []);
      children.get(s.parentSpanId).push(s);
    } else roots.push(s);
  }
  const out = [];
  const visit = (s, depth) => {
    out.push({ span: s, depth });
    for (const c of (children.get(s.spanId) ?? []).sort((a, b) => a.startMs - b.startMs)) visit(c, depth + 1);
  };
  for (const r of roots.sort((a, b) => a.startMs - b.startMs)) visit(r, 0);
  return out;
}

// A trace as a waterfall: one row per span, its bar placed on the trace's time axis; click a row
// to see its attributes (cold-start mode, pages prefetched vs on demand, bytes moved...).
export function waterfall(trace, onClose) {
  const { summary } = trace;
  const start = summary.startMs;
  const total = Math.max(summary.durationMs, 1e-6);
  const rows = spanTree(trace.spans).map(({ span, depth }) => {
    const bar = h('span', { class: `bar ${span.status === 'error' ? 'error' : ''} ${span.name.split('.')[0]}` });
    // CSSOM writes are allowed under the page's CSP (style attributes in markup are not).
    bar.style.left = `${(((span.startMs - start) / total) * 100).toFixed(3)}%`;
    bar.style.width = `${Math.max(0.2, (span.durationMs / total) * 100).toFixed(3)}%`;
    const name = h('span', { class: 'span-name' }, span.name);
    name.style.paddingLeft = `${depth * 1.1}em`;
    const details = h('dl', { class: 'span-attrs', hidden: true },
      Object.entries({ service: span.service, span: span.spanId, ...(span.statusMessage ? { status: span.statusMessage } : {}), ...span.attributes })
        .map(([k, v]) => [h('dt', null, k), h('dd', null, String(v))]));
    const row = h('li', { class: 'span-row', 'data-span': span.name, onclick: () => (details.hidden = !details.hidden) },
      name, h('span', { class: 'span-dur' }, ms(span.durationMs)), h('span', { class: 'track' }, bar), details);
    return row;
  });
  return h('div', { class: 'waterfall', 'data-trace': trace.traceId },
    h('div', { class: 'waterfall-head' },
      h('strong', null, summary.function ?? 'trace'), ' ',
      h('code', null, trace.traceId), ' ',
      `${summary.invocationIds.length} invocation${summary.invocationIds.length === 1 ? '' : 's'}, ${summary.spanCount} spans, ${ms(summary.durationMs)}`,
      summary.cold ? h('span', { class: 'badge cold' }, 'cold') : null,
      summary.error ? h('span', { class: 'badge error' }, 'error') : null,
      h('button', { type: 'button', class: 'link', onclick: onClose }, 'close')),
    h('ol', { class: 'spans' }, rows));
}
