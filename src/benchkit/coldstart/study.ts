import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ColdStartMode, Runtime } from '../../manifest/schema.js';
import { startPlatform, type Platform } from '../../platform.js';
import { SpanNames } from '../../observability/semantic.js';
import { snapshotSupport, type SnapshotSupport } from '../../coldstart/availability.js';
import { prepareCache, type CacheState } from './cache.js';
import { directReadMBps } from './disk.js';
import { mean, summarize, type Summary } from './summary.js';

/**
 * The cold-start study (thesis figures 4.2, 5.2–5.4): for each function × mode × concurrency, force
 * `iterations` cold starts through a real platform and break each down.
 *
 * One platform per mode (its default cold-start mode), a fresh state each, one worker. Functions
 * are scaled by fixed keep-alive with a keep-alive of 0 (an idle instance is reclaimed, nothing
 * starts on its own), and before every iteration the study stops the function's instances through
 * the control plane itself (`FunctionController.recycle`): the next requests are cold starts. Before
 * measuring, each function gets its snapshot (first cold start: boot + dump) and, for `reap`, its
 * working set (second: the record phase, reported separately as `recordPhase`).
 */

export interface StudyFunction {
  name: string;
  dir: string;
  runtime: Runtime;
}

export interface StudyOptions {
  functions: StudyFunction[];
  modes: ColdStartMode[];
  iterations: number;
  cache: CacheState;
  concurrency: number[];
  /** Parent folder for the platforms' states (default: a temp folder, removed afterwards). */
  stateDir?: string;
  progress?: (line: string) => void;
}

export interface StudyResult {
  function: string;
  mode: ColdStartMode;
  cache: CacheState;
  concurrency: number;
  iterations: number;
  latencyMs: Summary;
  /** `criu`: CRIU's own part of `restore` (request to answer, timed by the relay that keeps it ready). */
  breakdownMs: { restore: number; criu: number; connect: number; processing: number; fetchWs: number; installWs: number };
  pages: { ws: number; prefetched: number; onDemand: number };
  wsBytes: number;
  wsReadMBps: number;
  rssMB: number;
  /** Modes the instances actually started in (a failed restore boots). */
  modesUsed: string[];
  errors: number;
  /** reap: the record phase's cold start (latency and its extra time). */
  recordPhase?: { latencyMs: number; recordMs: number };
}

export interface StudyReport {
  results: StudyResult[];
  /** Whether snapshot cold starts work on this machine; when not, the snapshot modes were skipped. */
  snapshots: SnapshotSupport;
  /** Modes asked for but not measured (snapshots unavailable here). */
  skippedModes?: ColdStartMode[];
  disk: { directReadMBps: number };
}

interface Sample {
  latencyMs: number;
  startMs: number;
  restore: number;
  criu: number;
  fetchWs: number;
  installWs: number;
  ws: number;
  prefetched: number;
  onDemand: number;
  wsBytes: number;
  rssMB: number;
  /** The working set's O_DIRECT read alone (the monitor's readMs). */
  readMs: number;
  mode: string;
  hasMonitor: boolean;
}

async function invoke(p: Platform, fn: string, body: Buffer): Promise<{ status: number; ms: number; instanceId: string }> {
  const t0 = performance.now();
  const res = await fetch(`${p.url}/invoke/${fn}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${p.tokens.invoke}`, 'content-type': 'application/json' },
    body,
  });
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - t0, instanceId: res.headers.get('x-hivelab-instance-id') ?? '' };
}

async function stopInstances(p: Platform, fn: string): Promise<void> {
  const c = p.control.controller(fn);
  if (!c) return;
  await Promise.all(c.instances.filter((i) => i.state !== 'dead').map((i) => c.recycle(i, true)));
  const until = Date.now() + 60_000;
  while (c.instances.some((i) => i.state !== 'dead') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

function phaseMs(phases: Array<{ name: string; startEpochMs: number; endEpochMs: number }> | undefined, name: string): number {
  const ph = phases?.find((x) => x.name === name);
  return ph ? ph.endEpochMs - ph.startEpochMs : 0;
}

/** One round: `concurrency` simultaneous cold starts, each broken down. */
async function round(p: Platform, fn: StudyFunction, body: Buffer, concurrency: number, cache: CacheState): Promise<{ samples: Sample[]; errors: number }> {
  await stopInstances(p, fn.name);
  await prepareCache(cache, fn.runtime);
  const c = p.control.controller(fn.name)!;
  // Each reply's instance record and worker figures are taken as it arrives: with a keep-alive of
  // 0 an idle instance may be reclaimed before the slowest of the round's requests returns.
  const replies = await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const r = await invoke(p, fn.name, body).catch(() => ({ status: 0, ms: 0, instanceId: '' }));
      const inst = c.instances.find((i) => i.id === r.instanceId);
      const stats = r.status === 200 ? await p.control.workerStats() : [];
      return { ...r, inst, ws: stats.flatMap((w) => w.instances).find((i) => i.instanceId === r.instanceId) };
    }),
  );
  const samples: Sample[] = [];
  let errors = 0;
  for (const r of replies) {
    if (r.status !== 200) {
      errors++;
      continue;
    }
    const { inst, ws } = r;
    const m = ws?.monitor;
    const t = inst?.timings ?? { startMs: 0 };
    const fetchWs = phaseMs(inst?.phases, SpanNames.wsFetch);
    samples.push({
      latencyMs: r.ms,
      startMs: inst?.readyAt ? inst.readyAt - inst.createdAt : t.startMs,
      restore: t.restoreMs ?? phaseMs(inst?.phases, SpanNames.sandboxStart) ?? t.startMs,
      criu: t.criuMs ?? 0,
      fetchWs,
      installWs: phaseMs(inst?.phases, SpanNames.wsInstall),
      ws: m?.wsPages ?? 0,
      prefetched: m?.prefetched ?? 0,
      onDemand: m?.onDemand ?? 0,
      wsBytes: m?.wsInstalled ? m.wsPages * 4096 : 0,
      rssMB: (ws?.memoryBytes ?? 0) / 1048576,
      readMs: m?.wsInstalled ? m.readMs : 0,
      mode: inst?.mode ?? '?',
      hasMonitor: m !== undefined,
    });
  }
  return { samples, errors };
}

export async function runStudy(opts: StudyOptions): Promise<StudyReport> {
  const progress = opts.progress ?? (() => undefined);
  const results: StudyResult[] = [];
  // Where snapshots cannot work, every snapshot mode would only measure boots: say so, skip them.
  const snapshots = await snapshotSupport();
  const skippedModes: ColdStartMode[] = snapshots.available ? [] : opts.modes.filter((m) => m !== 'boot');
  if (skippedModes.length) progress(`snapshots unavailable on this machine (${snapshots.reason}): skipping ${skippedModes.join(', ')}`);
  const modes = opts.modes.filter((m) => !skippedModes.includes(m));
  if (modes.length === 0) return { results, disk: { directReadMBps: 0 }, snapshots, skippedModes };
  const own = !opts.stateDir;
  const root = opts.stateDir ?? (await mkdtemp(join(tmpdir(), 'hivelab-coldstart-')));
  await mkdir(root, { recursive: true }); // a --state folder that does not exist yet is made
  try {
    progress('measuring the disk: one 256 MiB O_DIRECT read');
    const disk = { directReadMBps: await directReadMBps(join(root, 'disk-probe.bin')) };
    progress(`disk: ${disk.directReadMBps.toFixed(0)} MB/s`);
    for (const mode of modes) {
      const platform = await startPlatform({
        port: 0,
        quiet: true,
        stateDir: join(root, mode),
        coldStart: mode,
        policy: 'fixed-keepalive',
        keepAliveMs: 0,
        workers: 1,
        workerMemoryBudgetMB: 64 * 1024,
        traceSampleRate: 0,
        dataServices: false,
      });
      try {
        for (const fn of opts.functions) {
          const input = join(fn.dir, 'sample-input.json');
          const body = existsSync(input) ? await readFile(input) : Buffer.from('{}');
          try {
            await platform.control.deploy(fn.dir);
          } catch (err) {
            progress(`${fn.name}: cannot deploy: ${(err as Error).message}`);
            continue;
          }
          // The snapshot (first cold start) and, for reap, the working set (second) come first.
          let recordPhase: StudyResult['recordPhase'];
          if (mode !== 'boot') {
            await stopInstances(platform, fn.name);
            const first = await invoke(platform, fn.name, body);
            progress(`${fn.name} ${mode}: snapshot made (first cold start ${first.ms.toFixed(0)} ms, status ${first.status})`);
            if (mode === 'reap') {
              await stopInstances(platform, fn.name);
              await prepareCache(opts.cache, fn.runtime);
              const rec = await invoke(platform, fn.name, body);
              const inst = platform.control.controller(fn.name)?.instances.find((i) => i.id === rec.instanceId);
              recordPhase = { latencyMs: rec.ms, recordMs: inst?.timings?.recordMs ?? 0 };
              progress(`${fn.name} reap: record phase ${rec.ms.toFixed(0)} ms (record ${recordPhase.recordMs.toFixed(0)} ms)`);
            }
          }
          for (const concurrency of opts.concurrency) {
            const samples: Sample[] = [];
            let errors = 0;
            for (let i = 0; i < opts.iterations; i++) {
              const r = await round(platform, { ...fn }, body, concurrency, opts.cache);
              samples.push(...r.samples);
              errors += r.errors;
              const last = r.samples.at(-1);
              progress(`${fn.name} ${mode} c=${concurrency} #${i + 1}/${opts.iterations}: ${last ? `${last.latencyMs.toFixed(0)} ms (${last.mode}, on-demand ${last.onDemand})` : 'failed'}`);
            }
            await stopInstances(platform, fn.name);
            const latency = samples.map((s) => s.latencyMs);
            // Breakdowns and page counts only from samples whose instance figures were captured.
            const known = samples.filter((s) => s.mode !== '?');
            const paged = known.filter((s) => s.hasMonitor);
            const fetchMs = mean(samples.filter((s) => s.mode !== '?').map((s) => s.fetchWs));
            const wsBytes = mean(samples.filter((s) => s.hasMonitor).map((s) => s.wsBytes));
            results.push({
              function: fn.name,
              mode,
              cache: opts.cache,
              concurrency,
              iterations: opts.iterations,
              latencyMs: summarize(latency),
              breakdownMs: {
                restore: mean(known.map((s) => s.restore)),
                criu: mean(known.map((s) => s.criu)),
                connect: mean(known.map((s) => Math.max(0, s.startMs - s.restore))),
                processing: mean(known.map((s) => Math.max(0, s.latencyMs - s.startMs))),
                fetchWs: fetchMs,
                installWs: mean(known.map((s) => s.installWs)),
              },
              pages: { ws: mean(paged.map((s) => s.ws)), prefetched: mean(paged.map((s) => s.prefetched)), onDemand: mean(paged.map((s) => s.onDemand)) },
              wsBytes,
              // bandwidth of the working set's one O_DIRECT read (the fetch also checksums it)
              wsReadMBps: mean(paged.filter((s) => s.readMs > 0).map((s) => s.wsBytes / 1e6 / (s.readMs / 1000))),
              rssMB: mean(samples.filter((s) => s.rssMB > 0).map((s) => s.rssMB)),
              modesUsed: [...new Set(samples.map((s) => s.mode))],
              errors,
              ...(recordPhase ? { recordPhase } : {}),
            });
          }
          await platform.control.remove(fn.name).catch(() => false);
        }
      } finally {
        await platform.stop();
      }
    }
    return { results, disk, snapshots, ...(skippedModes.length ? { skippedModes } : {}) };
  } finally {
    if (own) await rm(root, { recursive: true, force: true });
  }
}
