import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WrittenSubExperiment } from './outputs.js';
import { cdfSpec, renderSvg } from './plots.js';
import { normaliseToBase } from './statistics.js';

/**
 * The cross-sub-experiment outputs: STeLLAR's table 3.1 (each experiment's median and tail
 * normalised to the base warm median: MR = p50 / base p50, TR = p99 / base p50) as CSV, and a
 * self-contained report.html (table plus inline SVG plots; no scripts, no external assets, so it
 * opens offline and can be attached to a paper's artifact).
 */
export interface Table31Row {
  title: string;
  count: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  tmr: number;
  coldCount: number;
  mr: number;
  tr: number;
}

export function table31(subs: readonly Pick<WrittenSubExperiment, 'summary'>[], baselineTitle?: string): { base: string; rows: Table31Row[] } {
  const base = subs.find((s) => s.summary.title === baselineTitle) ?? subs[0];
  const baseMedian = base?.summary.p50 ?? NaN;
  return {
    base: base?.summary.title ?? '',
    rows: subs.map(({ summary: s }) => ({
      title: s.title,
      count: s.count,
      errors: s.errors,
      p50Ms: s.p50,
      p99Ms: s.p99,
      tmr: s.tmr,
      coldCount: s.coldCount,
      ...normaliseToBase(s, baseMedian),
    })),
  };
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const f = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

export function table31Csv(rows: readonly Table31Row[]): string {
  const head = 'title,count,errors,p50_ms,p99_ms,tmr,cold,mr,tr';
  return [head, ...rows.map((r) => [/[",]/.test(r.title) ? `"${r.title.replace(/"/g, '""')}"` : r.title, r.count, r.errors, f(r.p50Ms, 3), f(r.p99Ms, 3), f(r.tmr, 3), r.coldCount, f(r.mr), f(r.tr)].join(','))].join('\n') + '\n';
}

export async function writeReport(outDir: string, subs: readonly WrittenSubExperiment[], opts: { title: string; baseline?: string; notes?: string[] }): Promise<string> {
  const { base, rows } = table31(subs, opts.baseline);
  await writeFile(join(outDir, 'table-3.1.csv'), table31Csv(rows));
  const withData = subs.filter((s) => s.latenciesMs.length > 0);
  const overall = withData.length ? await renderSvg(cdfSpec(withData.map((s) => ({ title: s.summary.title, latenciesMs: s.latenciesMs })), 'Latency CDF, all sub-experiments (log scale)', { logX: true })) : '';
  const tableRows = subs
    .map(({ summary: s }, i) => {
      const r = rows[i]!;
      const lag = s.clientLag;
      const hops = s.hopTransfers.map((h, k) => `hop ${k + 1}→${k + 2}: p50 ${f(h.p50)} / p99 ${f(h.p99)}`).join('<br>');
      return `<tr><td>${esc(s.title)}${s.interrupted ? ' <em>(interrupted)</em>' : ''}</td><td>${s.count}</td><td>${s.errors}</td><td>${f(s.mean)}</td><td>${f(s.p50)}</td><td>${f(s.p99)}</td><td>${f(s.max)}</td><td>${f(s.tmr)}</td><td>${s.coldCount}</td><td>${f(r.mr)}</td><td>${f(r.tr)}</td><td>${f(lag.burstStartP99Ms, 3)}</td><td>${hops}</td></tr>`;
    })
    .join('\n');
  const sections = subs.map((s) => `<section><h3>${esc(s.summary.title)}</h3><p><code>${esc(s.dir)}</code></p>${s.cdfSvg}</section>`).join('\n');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(opts.title)}</title>
<style>body{font-family:"DejaVu Sans",sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}th{background:#eee}section{margin-top:2em}</style>
</head><body>
<h1>${esc(opts.title)}</h1>
<p>Latencies in ms as seen by the client (send → full response). Percentiles: linear interpolation between closest ranks.
TMR = p99 / p50. MR and TR (STeLLAR table 3.1) are the median and the p99 normalised to the median of the base warm experiment, <b>${esc(base)}</b>.
Lag = the client's burst-start send lag p99 (ms).</p>
<table><thead><tr><th>sub-experiment</th><th>count</th><th>errors</th><th>mean</th><th>p50</th><th>p99</th><th>max</th><th>TMR</th><th>cold</th><th>MR</th><th>TR</th><th>lag p99</th><th>per-hop transfer</th></tr></thead>
<tbody>
${tableRows}
</tbody></table>
${(opts.notes ?? []).map((n) => `<p class="note">${esc(n)}</p>`).join('\n')}
<section>${overall}</section>
${sections}
</body></html>
`;
  const file = join(outDir, 'report.html');
  await writeFile(file, html);
  return file;
}
