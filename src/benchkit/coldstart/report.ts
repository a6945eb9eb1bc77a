import type { StudyReport, StudyResult } from './study.js';

/** Pure: the study as a text table and as CSV. */

const COLUMNS: Array<[string, (r: StudyResult) => string]> = [
  ['function', (r) => r.function],
  ['mode', (r) => r.mode],
  ['cache', (r) => r.cache],
  ['conc', (r) => String(r.concurrency)],
  ['n', (r) => String(r.iterations)],
  ['median_ms', (r) => r.latencyMs.median.toFixed(1)],
  ['p99_ms', (r) => r.latencyMs.p99.toFixed(1)],
  ['mean_ms', (r) => r.latencyMs.mean.toFixed(1)],
  ['restore_ms', (r) => r.breakdownMs.restore.toFixed(1)],
  ['criu_ms', (r) => r.breakdownMs.criu.toFixed(1)],
  ['connect_ms', (r) => r.breakdownMs.connect.toFixed(1)],
  ['processing_ms', (r) => r.breakdownMs.processing.toFixed(1)],
  ['fetch_ws_ms', (r) => r.breakdownMs.fetchWs.toFixed(1)],
  ['install_ws_ms', (r) => r.breakdownMs.installWs.toFixed(1)],
  ['ws_pages', (r) => r.pages.ws.toFixed(0)],
  ['prefetched', (r) => r.pages.prefetched.toFixed(0)],
  ['on_demand', (r) => r.pages.onDemand.toFixed(0)],
  ['ws_MB', (r) => (r.wsBytes / 1e6).toFixed(1)],
  ['ws_read_MBps', (r) => r.wsReadMBps.toFixed(0)],
  ['rss_MB', (r) => r.rssMB.toFixed(1)],
  ['modes_used', (r) => r.modesUsed.join('+')],
  ['errors', (r) => String(r.errors)],
  ['record_ms', (r) => (r.recordPhase ? r.recordPhase.recordMs.toFixed(1) : '')],
  ['record_latency_ms', (r) => (r.recordPhase ? r.recordPhase.latencyMs.toFixed(1) : '')],
];

export function toCsv(report: StudyReport): string {
  const rows = report.results.map((r) => COLUMNS.map(([, f]) => f(r)).join(','));
  return [COLUMNS.map(([h]) => h).join(','), ...rows].join('\n') + '\n';
}

export function toTable(report: StudyReport): string {
  const shown = COLUMNS.filter(([h]) => !['cache', 'p99_ms', 'mean_ms', 'ws_MB', 'record_latency_ms'].includes(h));
  const cells = [shown.map(([h]) => h), ...report.results.map((r) => shown.map(([, f]) => f(r)))];
  const widths = shown.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  const lines = cells.map((row) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  return `${lines.join('\n')}\ndisk: one O_DIRECT read ${report.disk.directReadMBps.toFixed(0)} MB/s\n`;
}
