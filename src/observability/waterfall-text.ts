import type { TraceRecord } from './span-record.js';
import { spanTree } from './span-tree.js';

function ms(v: number): string {
  return v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(v < 10 ? 2 : 1)}ms`;
}

/**
 * A trace as a terminal waterfall: one line per span, indented by depth, with a bar placed on the
 * trace's time axis. Pure so the CLI and its tests share it.
 */
export function renderWaterfall(t: TraceRecord, width = 100): string {
  const rows = spanTree(t.spans);
  const start = t.summary.startMs;
  const total = Math.max(t.summary.durationMs, 1e-6);
  const labels = rows.map(({ span, depth }) => `${'  '.repeat(depth)}${span.name}${span.status === 'error' ? ' !' : ''}`);
  const labelWidth = Math.min(48, Math.max(...labels.map((l) => l.length), 4));
  const durWidth = 9;
  const barWidth = Math.max(10, width - labelWidth - durWidth - 4);
  const lines = [
    `trace ${t.traceId}  ${t.summary.function ?? ''}  invocations ${t.summary.invocationIds.join(', ')}  ${ms(t.summary.durationMs)}${t.summary.cold ? '  cold' : ''}`,
  ];
  rows.forEach(({ span }, i) => {
    const from = Math.min(barWidth - 1, Math.floor(((span.startMs - start) / total) * barWidth));
    const len = Math.max(1, Math.min(barWidth - from, Math.round((span.durationMs / total) * barWidth)));
    const bar = ' '.repeat(from) + '█'.repeat(len) + ' '.repeat(barWidth - from - len);
    const label = labels[i]!.length > labelWidth ? labels[i]!.slice(0, labelWidth - 1) + '…' : labels[i]!.padEnd(labelWidth);
    lines.push(`${label} ${ms(span.durationMs).padStart(durWidth)} |${bar}|`);
  });
  return lines.join('\n') + '\n';
}
