import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RequestRecord } from '../client.js';
import { stellarSubDirName, type StellarSubInfo } from './experiment-file.js';

/**
 * STeLLAR's result files, written beside Hivelab's so STeLLAR's plotting scripts (plotter/plot.py)
 * read a Hivelab run as one of their own (src/benchmarking/writers, post-processing.go):
 *
 *   <out>/stellar/<unix seconds>/<Title>-memory<M>MB-img<I>MB-IAT<IAT>s-burst<B0>-st<S0>-payload<KB>KB/
 *     latencies.csv      Request ID,Host,Sent At,Received At,Client Latency (ms),Burst ID
 *     statistics.csv     Count,Mean,Standard Deviation,Min,25%ile,50%ile,75%ile,95%ile,Max   (%.2f)
 *     data-transfers.csv Request ID,Host,Burst ID,Function 0 Timestamp,…   (chains only)
 *
 * As STeLLAR: only answers with status 200 are recorded; Sent/Received At are RFC 3339 to the
 * second; the latency is truncated to whole ms; the Request ID and the timestamp chain come from
 * the function's JSON answer `{RequestID, TimestampChain}` (empty when it gives none); statistics
 * use the sample standard deviation and gonum's empirical quantile (the first sorted value whose
 * rank reaches p·n). One difference: STeLLAR times to the first response byte, Hivelab to the
 * whole response (the same for STeLLAR's small answers).
 */
export interface StellarOutput {
  root: string;
  subs: StellarSubInfo[];
}

export function stellarRunRoot(outDir: string, epochMs = Date.now()): string {
  return join(outDir, 'stellar', String(Math.floor(epochMs / 1000)));
}

/** Go's time.RFC3339 in UTC. */
export function rfc3339(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** gonum stat.Quantile(p, Empirical) of sorted values: the first x_i (1-based i) with i ≥ p·n. */
export function empiricalQuantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.max(1, Math.ceil(p * sorted.length - 1e-9));
  return sorted[Math.min(i, sorted.length) - 1]!;
}

export function statisticsCsv(latencies: readonly number[]): string {
  const xs = [...latencies].sort((a, b) => a - b);
  const n = xs.length;
  const mean = n ? xs.reduce((s, x) => s + x, 0) / n : NaN;
  const sd = n > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : NaN;
  const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : 'NaN');
  const row = [n, f(mean), f(sd), f(xs[0] ?? NaN), f(empiricalQuantile(xs, 0.25)), f(empiricalQuantile(xs, 0.5)), f(empiricalQuantile(xs, 0.75)), f(empiricalQuantile(xs, 0.95)), f(xs[n - 1] ?? NaN)];
  return `Count,Mean,Standard Deviation,Min,25%ile,50%ile,75%ile,95%ile,Max\n${row.join(',')}\n`;
}

/** `{RequestID, TimestampChain}` from a function's answer (STeLLAR unescapes &#34; first). */
export function parseStellarAnswer(body: Buffer | undefined): { requestId: string; chain: string[] } {
  if (!body || body.length === 0) return { requestId: '', chain: [] };
  try {
    const v = JSON.parse(body.toString('utf8').replace(/&#34;/g, '"')) as { RequestID?: unknown; TimestampChain?: unknown };
    return {
      requestId: typeof v.RequestID === 'string' ? v.RequestID : '',
      chain: Array.isArray(v.TimestampChain) ? v.TimestampChain.map((x) => String(x)) : [],
    };
  } catch {
    return { requestId: '', chain: [] };
  }
}

const cell = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

export async function writeStellarSub(out: StellarOutput, index: number, records: readonly RequestRecord[], epochAtStartMs: number): Promise<string> {
  const info = out.subs[index]!;
  const dir = join(out.root, stellarSubDirName(info));
  await mkdir(dir, { recursive: true });
  const ok = records.filter((r) => r.status === 200).sort((a, b) => a.sentMs - b.sentMs);
  const lat: string[] = ['Request ID,Host,Sent At,Received At,Client Latency (ms),Burst ID'];
  const transfers: string[] = [['Request ID', 'Host', 'Burst ID', ...Array.from({ length: info.chainLength }, (_, i) => `Function ${i} Timestamp`)].join(',')];
  const latencies: number[] = [];
  for (const r of ok) {
    const host = new URL(r.url).host;
    const { requestId, chain } = parseStellarAnswer(r.body);
    const ms = Math.trunc(r.latencyMs);
    latencies.push(ms);
    lat.push([cell(requestId), cell(host), rfc3339(epochAtStartMs + r.sentMs), rfc3339(epochAtStartMs + r.receivedMs), ms, r.burstId].join(','));
    if (info.chainLength > 1) transfers.push([cell(requestId), cell(host), r.burstId, ...Array.from({ length: info.chainLength }, (_, i) => cell(chain[i] ?? ''))].join(','));
  }
  await writeFile(join(dir, 'latencies.csv'), lat.join('\n') + '\n');
  await writeFile(join(dir, 'statistics.csv'), statisticsCsv(latencies));
  if (info.chainLength > 1) await writeFile(join(dir, 'data-transfers.csv'), transfers.join('\n') + '\n');
  return dir;
}
