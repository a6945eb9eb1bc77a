import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { runOpenLoop, type OutgoingRequest, type RequestRecord } from './client.js';
import { grpcRequestBody, grpcTarget } from './grpc-request.js';
import type { Experiment, SubExperiment } from './experiment.js';
import { isSuccess, writeSubExperiment, type WrittenSubExperiment } from './outputs.js';
import { ProgressBar } from './progress.js';
import type { Deployment, Provider } from './providers/provider.js';
import { writeReport } from './report.js';
import { planRequests } from './schedule.js';
import { collapseLagViolations, sendLag, sendLagExcess } from './send-lag.js';
import { calibrateIncrementsPerMs, incrementLimit, stellarQuery, stellarUrl } from './stellar/request.js';
import { writeStellarSub, type StellarOutput } from './stellar/results.js';
import { now } from './clock.js';

/**
 * Runs an experiment end to end: for each sub-experiment, deploy through the provider, warm up
 * (closed-loop, so the measured schedule starts with the warm-up done), send the schedule
 * open-loop, write the sub-experiment's folder; then report.html and table 3.1 across them.
 * An abort (Ctrl-C) stops sending, and whatever was measured so far is still written.
 */
export interface RunOptions {
  outDir: string;
  provider: Provider;
  /** Run only sub-experiment N (0-based, as in the output folder names). */
  only?: number;
  signal?: AbortSignal;
  progress?: boolean;
  plots?: boolean;
  log?: (line: string) => void;
  title?: string;
  /** Also write STeLLAR's result files (a STeLLAR experiment file was run). */
  stellar?: StellarOutput;
}

export interface RunResult {
  subs: WrittenSubExperiment[];
  reportFile?: string;
  /** One `[i] title: excess` per sub-experiment whose client send lag exceeded maxSendLagP99Ms (collapseLagViolations joins them). */
  lagViolations: string[];
  interrupted: boolean;
}

/** The JSON body a benchmark function receives (see bench-functions/bench-spin/index.mjs). */
export function requestBody(sub: Pick<SubExperiment, 'payloadBytes' | 'chainLength' | 'transfer'>, serviceTimeMs: number, chain: string[]): Buffer {
  const ev: Record<string, unknown> = { serviceTimeMs, payloadBytes: sub.payloadBytes, chain, transfer: sub.transfer };
  // A single function gets the payload from the client; in a chain the producer makes it.
  if (sub.chainLength === 1 && sub.payloadBytes > 0) ev.payload = 'x'.repeat(sub.payloadBytes);
  return Buffer.from(JSON.stringify(ev));
}

const EMPTY = Buffer.alloc(0);

export function outgoingRequests(sub: SubExperiment, dep: Deployment): OutgoingRequest[] {
  const plan = planRequests({ ...sub, replicas: dep.urls.length });
  if (sub.grpc) {
    const { proto, method, request } = sub.grpc;
    const body = grpcRequestBody(proto, method, request);
    const targets = dep.urls.map((u) => grpcTarget(u, method));
    return plan.map((p) => {
      const t = targets[p.replica]!;
      return { id: p.id, burstId: p.burstId, replica: p.replica, scheduledMs: p.scheduledMs, url: t.url, body, headers: { ...dep.headers, ...t.headers } };
    });
  }
  if (sub.requestFormat === 'stellar') {
    const perMs = sub.incrementsPerMs ?? (sub.serviceTimes.some((t) => t > 0) ? calibrateIncrementsPerMs() : 0);
    const urls = new Map<string, string>();
    return plan.map((p) => {
      const key = `${p.replica}:${p.serviceTimeMs}`;
      let url = urls.get(key);
      if (!url) urls.set(key, (url = stellarUrl(dep.urls[p.replica]!, stellarQuery(incrementLimit(p.serviceTimeMs, perMs), sub.payloadBytes, dep.chain(p.replica)))));
      return { id: p.id, burstId: p.burstId, replica: p.replica, scheduledMs: p.scheduledMs, url, body: EMPTY, headers: dep.headers, method: 'GET' as const };
    });
  }
  const bodies = new Map<string, Buffer>();
  return plan.map((p) => {
    const key = `${p.replica}:${p.serviceTimeMs}`;
    let body = bodies.get(key);
    if (!body) bodies.set(key, (body = requestBody(sub, p.serviceTimeMs, dep.chain(p.replica))));
    return { id: p.id, burstId: p.burstId, replica: p.replica, scheduledMs: p.scheduledMs, url: dep.urls[p.replica]!, body, headers: dep.headers };
  });
}

async function warmUp(sub: SubExperiment, dep: Deployment, signal?: AbortSignal): Promise<void> {
  if (sub.grpc && sub.warmup > 0) {
    // One call per replica at a time, through the same client as the measured requests.
    const one = outgoingRequests({ ...sub, bursts: 1, burstSizes: [1] }, dep);
    for (let w = 0; w < sub.warmup && !signal?.aborted; w++) {
      for (const r of one) await runOpenLoop([{ ...r, scheduledMs: 0 }], { connections: 1, reuseConnections: true, timeoutMs: sub.timeoutMs, coldThresholdMs: sub.coldThresholdMs, keepBodies: false, signal });
    }
    return;
  }
  for (let w = 0; w < sub.warmup && !signal?.aborted; w++) {
    for (let r = 0; r < dep.urls.length && !signal?.aborted; r++) {
      const stellar = sub.requestFormat === 'stellar';
      const url = stellar ? stellarUrl(dep.urls[r]!, stellarQuery(0, sub.payloadBytes, dep.chain(r))) : dep.urls[r]!;
      const res = await request(url, {
        method: stellar ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json', ...dep.headers },
        body: stellar ? undefined : requestBody(sub, sub.serviceTimes[0]!, dep.chain(r)),
        headersTimeout: sub.timeoutMs,
        bodyTimeout: sub.timeoutMs,
      });
      await res.body.dump();
    }
  }
}

async function runSub(exp: Experiment, sub: SubExperiment, index: number, opts: RunOptions, log: (l: string) => void): Promise<{ written: WrittenSubExperiment; violation?: string; interrupted: boolean }> {
  const dep = await opts.provider.deploy(sub, index);
  await warmUp(sub, dep, opts.signal);
  const reqs = outgoingRequests(sub, dep);
  const bar = new ProgressBar(`[${index}] ${sub.title}`, reqs.length, { enabled: opts.progress });
  const res = await runOpenLoop(reqs, {
    connections: sub.connections === 0 ? null : sub.connections,
    reuseConnections: sub.reuseConnections,
    timeoutMs: sub.timeoutMs,
    coldThresholdMs: sub.coldThresholdMs,
    // STeLLAR's result files need each response's RequestID and TimestampChain.
    keepBodies: sub.chainLength > 1 || opts.stellar !== undefined,
    onRecord: (r: RequestRecord) => bar.tick(isSuccess(r)),
    signal: opts.signal,
  });
  bar.finish();
  const lag = sendLag(res.records);
  const written = await writeSubExperiment(
    opts.outDir,
    { index, title: sub.title, records: res.records, lag, interrupted: res.interrupted, abandoned: res.abandoned, settings: { ...sub, endpoints: dep.urls } },
    { plots: opts.plots },
  );
  if (opts.stellar) {
    // Wall-clock time of the run's t = 0, for STeLLAR's RFC 3339 Sent At / Received At.
    const epochAtStart = Date.now() - (now() - res.startMs);
    await writeStellarSub(opts.stellar, index, res.records, epochAtStart);
  }
  const v = sendLagExcess(lag, exp.maxSendLagP99Ms);
  log(`[${index}] ${sub.title}: ${written.summary.count} ok, ${written.summary.errors} errors, p50 ${written.summary.p50.toFixed(2)} ms, p99 ${written.summary.p99.toFixed(2)} ms → ${written.dir}`);
  return { written, violation: v && `[${index}] ${sub.title}: ${v}`, interrupted: res.interrupted };
}

export async function runExperiment(exp: Experiment, opts: RunOptions): Promise<RunResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  if (opts.only !== undefined && (opts.only < 0 || opts.only >= exp.subExperiments.length)) {
    throw new Error(`--only ${opts.only}: the experiment has sub-experiments 0…${exp.subExperiments.length - 1}`);
  }
  const chosen = exp.subExperiments.map((s, i) => ({ s, i })).filter(({ i }) => opts.only === undefined || i === opts.only);
  await mkdir(opts.outDir, { recursive: true });
  const results: Awaited<ReturnType<typeof runSub>>[] = [];
  // A failing sub-experiment (e.g. a deploy error) must not lose the ones already measured: the
  // report is written for those, then the error is raised.
  let failure: unknown;
  try {
    if (exp.sequential) {
      for (const { s, i } of chosen) {
        if (opts.signal?.aborted) break;
        results.push(await runSub(exp, s, i, opts, log));
      }
    } else {
      const settled = await Promise.allSettled(chosen.map(({ s, i }) => runSub(exp, s, i, opts, log)));
      for (const r of settled) {
        if (r.status === 'fulfilled') results.push(r.value);
        else failure ??= r.reason;
      }
    }
  } catch (e) {
    failure = e;
  } finally {
    await opts.provider.teardown();
  }
  const subs = results.map((r) => r.written);
  const lagViolations = results.flatMap((r) => (r.violation ? [r.violation] : []));
  const interrupted = opts.signal?.aborted === true || results.some((r) => r.interrupted);
  let reportFile: string | undefined;
  if (subs.length) {
    reportFile = await writeReport(opts.outDir, subs, {
      title: opts.title ?? 'Hivelab benchmark',
      baseline: exp.baseline,
      notes: [...(interrupted ? ['Interrupted: the figures cover what was measured before Ctrl-C.'] : []), ...(lagViolations.length ? [collapseLagViolations(lagViolations)] : [])],
    });
    await writeFile(join(opts.outDir, 'summary.json'), JSON.stringify(jsonSummary(subs), null, 2) + '\n');
  }
  if (failure !== undefined) throw failure;
  return { subs, reportFile, lagViolations, interrupted };
}

/** The `--json` shape of `hivelab bench`. */
export function jsonSummary(subs: readonly WrittenSubExperiment[]): { subExperiments: { title: string; count: number; errors: number; p50Ms: number; p99Ms: number; tmr: number; coldCount: number; clientLagP99Ms: number }[] } {
  const num = (x: number): number => (Number.isFinite(x) ? Number(x.toFixed(3)) : (null as unknown as number));
  return {
    subExperiments: subs.map(({ summary: s }) => ({
      title: s.title,
      count: s.count,
      errors: s.errors,
      p50Ms: num(s.p50),
      p99Ms: num(s.p99),
      tmr: num(s.tmr),
      coldCount: s.coldCount,
      clientLagP99Ms: num(s.clientLag.burstStartP99Ms),
    })),
  };
}
