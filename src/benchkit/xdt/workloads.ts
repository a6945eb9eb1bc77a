/**
 * The real workloads of `hivelab xdt-bench --workload NAME` (thesis §6.5.5): each is a set of
 * function folders under workloads/<name>/ and a driver function whose event names the transport.
 * The functions stamp their own put/get times; the driver returns end-to-end time and the transfer
 * time on the workflow's critical path, which this module turns into per-transport rows.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { call, type PlatformClient } from '../../gateway/client.js';
import { percentile } from '../statistics.js';

/** workloads/ at the repository root, from src/benchkit/xdt (vitest) and dist/benchkit/xdt (CLI) alike. */
export const WORKLOADS_DIR = resolve(import.meta.dirname, '../../../workloads');

export interface WorkloadSpec {
  /** function folders, relative to workloads/<name>/ */
  functions: string[];
  driver: string;
  /** the driver's event at full scale (the thesis's configuration, sized for this machine) */
  event: Record<string, unknown>;
  /** inputs generated at set-up (seeded), when the workload needs files */
  prepare?: () => Promise<void>;
}

async function prepareVideo(): Promise<void> {
  const mod = (await import(pathToFileURL(join(WORKLOADS_DIR, 'video', 'prepare.mjs')).href)) as { prepareVideo(): Promise<string> };
  await mod.prepareVideo();
}

export const WORKLOADS: Record<string, WorkloadSpec> = {
  mapreduce: {
    functions: ['mapper', 'reducer', 'driver'],
    driver: 'mr-driver',
    event: { seed: 1, mappers: 40, reducers: 10, rowsPerMapper: 20_000 },
  },
  ensemble: {
    functions: ['trainer', 'reducer', 'meta', 'driver'],
    driver: 'ens-driver',
    event: { seed: 1, samples: 8000, trainers: 16 },
  },
  video: {
    functions: ['recognizer', 'decoder', 'streamer'],
    driver: 'va-streamer',
    event: { every: 5 },
    prepare: prepareVideo,
  },
};

export function workloadNames(): string[] {
  return Object.keys(WORKLOADS);
}

function spec(name: string): WorkloadSpec {
  const s = WORKLOADS[name];
  if (!s) throw new Error(`unknown workload "${name}" (${workloadNames().join(', ')})`);
  return s;
}

/** Generates the workload's inputs and deploys its functions (idempotent: a redeploy of the same folder is a no-op version). */
export async function deployWorkload(client: PlatformClient, name: string): Promise<void> {
  const s = spec(name);
  await s.prepare?.();
  for (const f of s.functions) {
    const dir = join(WORKLOADS_DIR, name, f);
    if (!existsSync(join(dir, 'function.json'))) throw new Error(`${dir} has no function.json`);
    const res = await call(client, 'POST', '/v1/functions', { body: JSON.stringify({ path: dir }) });
    if (res.status >= 300) throw new Error(`deploying ${dir} failed: HTTP ${res.status} ${res.body.toString('utf8').slice(0, 300)}`);
  }
}

export interface WorkloadRun {
  timings: { e2eMs: number; transferMs: number } & Record<string, unknown>;
  [k: string]: unknown;
}

/** One run of the workflow through the platform's gateway. */
export async function runWorkload(client: PlatformClient, name: string, transfer: string, overrides: Record<string, unknown> = {}): Promise<WorkloadRun> {
  const s = spec(name);
  const res = await call(client, 'POST', `/invoke/${s.driver}`, { role: 'invoke', body: JSON.stringify({ ...s.event, ...overrides, transfer }) });
  const text = res.body.toString('utf8');
  if (res.status !== 200) throw new Error(`${name} over ${transfer}: HTTP ${res.status} ${text.slice(0, 500)}`);
  return JSON.parse(text) as WorkloadRun;
}

export interface WorkloadRow {
  workload: string;
  transport: string;
  iterations: number;
  e2eMs: { median: number; p99: number };
  transferMs: { median: number; p99: number };
  /** median transfer time / median end-to-end time */
  transferFraction: number;
  /** storage's median end-to-end time / this transport's (when storage ran too) */
  speedupVsStorage?: number;
}

export async function benchWorkload(opts: {
  client: PlatformClient;
  workload: string;
  transports: string[];
  iterations: number;
  warmup: number;
  overrides?: Record<string, unknown>;
  log?: (line: string) => void;
}): Promise<WorkloadRow[]> {
  const log = opts.log ?? (() => {});
  await deployWorkload(opts.client, opts.workload);
  const samples = new Map<string, { e2e: number[]; transfer: number[] }>(opts.transports.map((t) => [t, { e2e: [], transfer: [] }]));
  // warm-up: instances of every stage exist before anything is measured (cold starts are not transfers)
  for (let i = 0; i < opts.warmup; i++) for (const t of opts.transports) await runWorkload(opts.client, opts.workload, t, opts.overrides);
  // transports interleaved per iteration, so drifting machine load hits all of them alike
  // a failed run is reported and left out, never silently averaged in
  for (let i = 0; i < opts.iterations; i++) {
    for (const t of opts.transports) {
      try {
        const r = await runWorkload(opts.client, opts.workload, t, opts.overrides);
        samples.get(t)!.e2e.push(r.timings.e2eMs);
        samples.get(t)!.transfer.push(r.timings.transferMs);
        log(`${opts.workload} ${t} #${i + 1}: e2e ${r.timings.e2eMs.toFixed(0)} ms, transfers ${r.timings.transferMs.toFixed(0)} ms`);
      } catch (err) {
        log(`FAILED ${opts.workload} ${t} #${i + 1}: ${(err as Error).message.slice(0, 300)}`);
      }
    }
  }
  const stat = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return { median: percentile(s, 50), p99: percentile(s, 99) };
  };
  const rows: WorkloadRow[] = opts.transports.filter((t) => samples.get(t)!.e2e.length > 0).map((t) => {
    const s = samples.get(t)!;
    const e2e = stat(s.e2e);
    const transfer = stat(s.transfer);
    return { workload: opts.workload, transport: t, iterations: s.e2e.length, e2eMs: e2e, transferMs: transfer, transferFraction: transfer.median / e2e.median };
  });
  const storage = rows.find((r) => r.transport === 'storage');
  if (storage) for (const r of rows) r.speedupVsStorage = storage.e2eMs.median / r.e2eMs.median;
  return rows;
}
