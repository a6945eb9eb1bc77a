import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runOpenLoop, type OutgoingRequest, type RequestRecord } from '../client.js';
import { isSuccess, writeSubExperiment, type WrittenSubExperiment } from '../outputs.js';
import { ProgressBar } from '../progress.js';
import { writeReport } from '../report.js';
import { sendLag, sendLagViolation, type SendLag } from '../send-lag.js';
import { latencyStatistics, type LatencyStatistics } from '../statistics.js';
import type { ReplayPlan } from './planner.js';

/**
 * Sends a replay plan open-loop to one deployed synthetic function per sampled trace function and
 * writes invocations.csv (function, scheduled, sent, latency, requested and actual duration, cold),
 * the usual statistics and plots (folder 00-replay), per-function figures and report.html.
 */
export interface ReplayTarget {
  /** Invoke URL of synthetic function i (plan.functions[i]). */
  urls: string[];
  headers: Record<string, string>;
}

export interface ReplayRunOptions {
  outDir: string;
  signal?: AbortSignal;
  progress?: boolean;
  plots?: boolean;
  timeoutMs?: number;
  coldThresholdMs?: number;
  maxSendLagP99Ms?: number;
  log?: (l: string) => void;
}

export interface ReplayFunctionSummary {
  function: string;
  app: string;
  memoryMB: number;
  latency: LatencyStatistics;
  coldCount: number;
  requestedDurationP50Ms: number;
  actualDurationP50Ms: number;
}

export interface ReplayResult {
  written: WrittenSubExperiment;
  invocationsCsv: string;
  lag: SendLag;
  violation?: string;
  interrupted: boolean;
  functions: ReplayFunctionSummary[];
}

function actualDuration(r: RequestRecord): number {
  if (!r.body || !isSuccess(r)) return NaN;
  try {
    const v = JSON.parse(r.body.toString('utf8')) as { actualDurationMs?: unknown };
    return typeof v.actualDurationMs === 'number' ? v.actualDurationMs : NaN;
  } catch {
    return NaN;
  }
}

const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : '');

export async function runReplay(plan: ReplayPlan, target: ReplayTarget, opts: ReplayRunOptions): Promise<ReplayResult> {
  if (target.urls.length !== plan.functions.length) throw new Error(`replay: ${plan.functions.length} functions planned but ${target.urls.length} URLs given`);
  const reqs: OutgoingRequest[] = plan.invocations.map((inv) => ({
    id: inv.id,
    // Every invocation is its own burst: the send-lag check then judges each arrival time.
    burstId: inv.id,
    replica: inv.fn,
    scheduledMs: inv.scheduledMs,
    url: target.urls[inv.fn]!,
    body: Buffer.from(JSON.stringify({ durationMs: Math.round(inv.requestedDurationMs * 1000) / 1000, allocMB: Math.round(inv.allocMB) })),
    headers: target.headers,
  }));
  const bar = new ProgressBar('replay', reqs.length, { enabled: opts.progress });
  const res = await runOpenLoop(reqs, {
    connections: null,
    reuseConnections: true,
    timeoutMs: opts.timeoutMs ?? 120_000,
    coldThresholdMs: opts.coldThresholdMs ?? 500,
    keepBodies: true,
    onRecord: (r) => bar.tick(isSuccess(r)),
    signal: opts.signal,
  });
  bar.finish();
  const lag = sendLag(res.records);
  const byId = new Map(plan.invocations.map((i) => [i.id, i]));
  const lines = ['function,app,request_id,scheduled_ms,sent_ms,latency_ms,requested_duration_ms,actual_duration_ms,cold,status,instance'];
  const perFn = plan.functions.map(() => ({ lat: [] as number[], req: [] as number[], act: [] as number[], cold: 0, errors: 0 }));
  for (const r of res.records) {
    const inv = byId.get(r.id)!;
    const f = plan.functions[inv.fn]!;
    const act = actualDuration(r);
    lines.push([f.hashFunction, f.hashApp, r.id, ms(r.scheduledMs), ms(r.sentMs), ms(r.latencyMs), ms(inv.requestedDurationMs), ms(act), r.cold ? 1 : 0, r.status, r.instanceId].join(','));
    const acc = perFn[inv.fn]!;
    if (isSuccess(r)) {
      acc.lat.push(r.latencyMs);
      acc.req.push(inv.requestedDurationMs);
      if (Number.isFinite(act)) acc.act.push(act);
      if (r.cold) acc.cold++;
    } else acc.errors++;
  }
  const invocationsCsv = join(opts.outDir, 'invocations.csv');
  const written = await writeSubExperiment(
    opts.outDir,
    { index: 0, title: 'replay', records: res.records.map((r) => ({ ...r, body: undefined })), lag, interrupted: res.interrupted, abandoned: res.abandoned, settings: { minutes: plan.minutes, iat: plan.iat, functions: plan.functions.length, invocations: plan.invocations.length } },
    { plots: opts.plots },
  );
  await writeFile(invocationsCsv, lines.join('\n') + '\n');
  const functions: ReplayFunctionSummary[] = plan.functions.map((f, i) => {
    const a = perFn[i]!;
    return {
      function: f.hashFunction,
      app: f.hashApp,
      memoryMB: f.memoryMB,
      latency: latencyStatistics(a.lat, a.errors),
      coldCount: a.cold,
      requestedDurationP50Ms: latencyStatistics(a.req).p50,
      actualDurationP50Ms: latencyStatistics(a.act).p50,
    };
  });
  await writeFile(join(opts.outDir, 'functions.json'), JSON.stringify(functions, null, 2) + '\n');
  const violation = sendLagViolation(lag, opts.maxSendLagP99Ms ?? 1);
  await writeReport(opts.outDir, [written], {
    title: `hivelab replay: ${plan.functions.length} functions, ${plan.minutes} min, ${plan.iat} within-minute arrivals`,
    notes: [...(res.interrupted ? ['Interrupted: the figures cover what was measured before Ctrl-C.'] : []), ...(violation ? [violation] : [])],
  });
  opts.log?.(`replay: ${written.summary.count} ok, ${written.summary.errors} errors, p50 ${written.summary.p50.toFixed(2)} ms, p99 ${written.summary.p99.toFixed(2)} ms → ${opts.outDir}`);
  return { written, invocationsCsv, lag, violation, interrupted: res.interrupted, functions };
}
