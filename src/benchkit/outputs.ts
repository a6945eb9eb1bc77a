import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hopTransfersMs, parseHops } from './chain.js';
import type { RequestRecord } from './client.js';
import { burstBarsSpec, cdfSpec, histogramSpec, writePlot, type BurstBar } from './plots.js';
import type { SendLag } from './send-lag.js';
import { latencyStatistics, STATISTICS_COLUMNS, type LatencyStatistics } from './statistics.js';

/** Everything measured for one sub-experiment, ready to be written out. */
export interface SubExperimentResult {
  index: number;
  title: string;
  records: RequestRecord[];
  lag: SendLag;
  interrupted: boolean;
  abandoned: number;
  /** The settings it ran with (copied into summary.json so a result folder explains itself). */
  settings: Record<string, unknown>;
}

export interface SubExperimentSummary extends LatencyStatistics {
  title: string;
  coldCount: number;
  warmCount: number;
  clientLag: SendLag;
  /** Per chain hop: statistics of the transfer into hop i+1 (empty for single functions). */
  hopTransfers: LatencyStatistics[];
  interrupted: boolean;
  abandoned: number;
  settings: Record<string, unknown>;
}

export const isSuccess = (r: Pick<RequestRecord, 'status'>): boolean => r.status >= 200 && r.status < 300;

export function summarise(res: SubExperimentResult): SubExperimentSummary {
  const ok = res.records.filter(isSuccess);
  const stats = latencyStatistics(
    ok.map((r) => r.latencyMs),
    res.records.length - ok.length,
  );
  const perHop: number[][] = [];
  for (const r of ok) {
    hopTransfersMs(parseHops(r.body)).forEach((ms, i) => {
      if (Number.isFinite(ms)) (perHop[i] ??= []).push(ms);
    });
  }
  const cold = ok.filter((r) => r.cold).length;
  return {
    title: res.title,
    ...stats,
    coldCount: cold,
    warmCount: ok.length - cold,
    clientLag: res.lag,
    hopTransfers: perHop.map((xs) => latencyStatistics(xs)),
    interrupted: res.interrupted,
    abandoned: res.abandoned,
    settings: res.settings,
  };
}

export function slug(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'sub-experiment';
}

export function subExperimentDir(outDir: string, index: number, title: string): string {
  return join(outDir, `${String(index).padStart(2, '0')}-${slug(title)}`);
}

const csvCell = (v: string): string => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : '');

export const LATENCY_COLUMNS = ['request_id', 'burst_id', 'replica', 'scheduled_ms', 'sent_ms', 'received_ms', 'latency_ms', 'status', 'cold', 'instance', 'hop_transfer_ms', 'error'];

export function latenciesCsv(records: readonly RequestRecord[]): string {
  const lines = [LATENCY_COLUMNS.join(',')];
  for (const r of records) {
    const hops = hopTransfersMs(parseHops(r.body)).map(ms).join(';');
    lines.push(
      [String(r.id), String(r.burstId), String(r.replica), ms(r.scheduledMs), ms(r.sentMs), ms(r.receivedMs), ms(r.latencyMs), String(r.status), r.cold ? '1' : '0', csvCell(r.instanceId), hops, csvCell(r.error ?? '')].join(','),
    );
  }
  return lines.join('\n') + '\n';
}

export function statisticsCsv(s: LatencyStatistics): string {
  const cols = STATISTICS_COLUMNS.filter((c) => c !== 'tmr');
  return cols.join(',') + '\n' + cols.map((c) => (c === 'count' || c === 'errors' ? String(s[c]) : ms(s[c]))).join(',') + '\n';
}

export function burstBars(records: readonly RequestRecord[]): BurstBar[] {
  const byBurst = new Map<number, RequestRecord[]>();
  for (const r of records) if (isSuccess(r)) (byBurst.get(r.burstId) ?? byBurst.set(r.burstId, []).get(r.burstId)!).push(r);
  return [...byBurst.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([burstId, rs]) => {
      const l = rs.map((r) => r.latencyMs).sort((a, b) => a - b);
      return { burstId, p50Ms: latencyStatistics(l).p50, maxMs: l[l.length - 1]!, cold: rs.filter((r) => r.cold).length, size: rs.length };
    });
}

export interface WrittenSubExperiment {
  dir: string;
  summary: SubExperimentSummary;
  /** SVG of the CDF, inlined in report.html. */
  cdfSvg: string;
  latenciesMs: number[];
}

/** Writes latencies.csv, statistics.csv, summary.json and the three plots (SVG + PNG). */
export async function writeSubExperiment(outDir: string, res: SubExperimentResult, opts: { plots?: boolean } = {}): Promise<WrittenSubExperiment> {
  const dir = subExperimentDir(outDir, res.index, res.title);
  await mkdir(dir, { recursive: true });
  const summary = summarise(res);
  await writeFile(join(dir, 'latencies.csv'), latenciesCsv(res.records));
  await writeFile(join(dir, 'statistics.csv'), statisticsCsv(summary));
  await writeFile(join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  const latenciesMs = res.records.filter(isSuccess).map((r) => r.latencyMs);
  let cdfSvg = '';
  if (opts.plots !== false && latenciesMs.length > 0) {
    cdfSvg = await writePlot(dir, 'latency-cdf', cdfSpec([{ title: res.title, latenciesMs }], `${res.title}: latency CDF`));
    await writePlot(dir, 'latency-histogram', histogramSpec(latenciesMs, `${res.title}: latency histogram`));
    await writePlot(dir, 'burst-latency', burstBarsSpec(burstBars(res.records), `${res.title}: latency per burst`));
  }
  return { dir, summary, cdfSvg, latenciesMs };
}
