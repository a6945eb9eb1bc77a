import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { Rng } from './rng.js';
import {
  dayLabel,
  DURATION_COLUMNS,
  invocationHeader,
  MEMORY_COLUMNS,
  MINUTES_PER_DAY,
  traceFileNames,
} from './format.js';

/**
 * A synthetic trace in the exact Azure Functions 2019 format, with the shapes Shahrad et al. report:
 * daily rates spread over ~6 orders of magnitude (log-normal: most functions rare, a few very hot),
 * timer-triggered functions firing on a period, bursty on/off functions, diurnal steady ones;
 * per-function log-normal durations and per-app memory. Deterministic from the seed.
 */

export interface SynthOptions {
  functions: number;
  days: number;
  seed: number;
  outDir: string;
}

export interface SynthSummary {
  functions: number;
  apps: number;
  days: number;
  invocations: number;
  files: string[];
}

type Shape = 'steady' | 'timer' | 'bursty';

interface FunctionSpec {
  index: number;
  owner: string;
  app: string;
  appIndex: number;
  hash: string;
  trigger: string;
  shape: Shape;
  /** Mean invocations per day. */
  daily: number;
  /** timer: period and phase in minutes; steady: diurnal amplitude and phase. */
  period: number;
  phase: number;
  amplitude: number;
  /** bursty: mean ON and OFF lengths (minutes). */
  onMean: number;
  offMean: number;
  /** Durations: log-normal median (ms) and sigma. */
  medianMs: number;
  sigma: number;
}

interface AppSpec {
  owner: string;
  app: string;
  memoryMB: number;
  memorySpread: number;
}

const TIMER_PERIODS = [1, 2, 5, 10, 15, 30, 60, 120, 240, 360, 720, 1440];
const EVENT_TRIGGERS = [
  ['http', 0.6],
  ['queue', 0.15],
  ['event', 0.1],
  ['storage', 0.08],
  ['orchestration', 0.05],
  ['others', 0.02],
] as const;

/** z-scores of the published duration percentiles (0 and 100 stand for min and max of a day). */
const DURATION_Z: Record<string, number> = { '0': -3, '1': -2.326, '25': -0.674, '50': 0, '75': 0.674, '99': 2.326, '100': 3.5 };
const MEMORY_Z: Record<string, number> = { '1': -2.326, '5': -1.645, '25': -0.674, '50': 0, '75': 0.674, '95': 1.645, '99': 2.326, '100': 3 };

function planFunctions(n: number, seed: number): { fns: FunctionSpec[]; apps: AppSpec[] } {
  const rng = Rng.derive(seed, 0x5eed);
  const fns: FunctionSpec[] = [];
  const apps: AppSpec[] = [];
  while (fns.length < n) {
    const owner = rng.hex(64);
    const appsOfOwner = rng.geometric(0.6);
    for (let a = 0; a < appsOfOwner && fns.length < n; a++) {
      const app = rng.hex(64);
      const appIndex = apps.length;
      apps.push({ owner, app, memoryMB: Math.min(2000, Math.max(20, Math.exp(Math.log(150) + 0.6 * rng.normal()))), memorySpread: rng.uniform(0.02, 0.25) });
      const fnsOfApp = rng.geometric(0.45);
      for (let f = 0; f < fnsOfApp && fns.length < n; f++) {
        const r = rng.next();
        const shape: Shape = r < 0.15 ? 'timer' : r < 0.3 ? 'bursty' : 'steady';
        // log10(daily invocations) ~ N(1.3, 1.3): median 20/day, 1 in 1000 above 10^5.3.
        const daily = Math.min(2e6, Math.max(1, 10 ** (1.3 + 1.3 * rng.normal())));
        const idealPeriod = MINUTES_PER_DAY / daily;
        const period = TIMER_PERIODS.reduce((best, p) => (Math.abs(Math.log(p / idealPeriod)) < Math.abs(Math.log(best / idealPeriod)) ? p : best));
        fns.push({
          index: fns.length,
          owner,
          app,
          appIndex,
          hash: rng.hex(64),
          trigger: shape === 'timer' ? 'timer' : rng.pick(EVENT_TRIGGERS),
          shape,
          daily,
          period,
          phase: rng.int(period),
          amplitude: rng.uniform(0, 0.6),
          onMean: rng.uniform(2, 15),
          offMean: rng.uniform(60, 600),
          medianMs: Math.min(300_000, Math.max(5, Math.exp(Math.log(400) + 1.6 * rng.normal()))),
          sigma: rng.uniform(0.3, 1.2),
        });
      }
    }
  }
  return { fns, apps };
}

/** One day of per-minute counts for a function into `out`. */
function minutesOf(f: FunctionSpec, day: number, seed: number, out: Int32Array): void {
  const rng = Rng.derive(seed, f.index, day + 1);
  const base = day * MINUTES_PER_DAY;
  out.fill(0);
  if (f.shape === 'timer') {
    // Periodic, with the occasional extra run (retries, manual triggers) and rare misses.
    const perFire = Math.max(1, Math.round((f.daily * f.period) / MINUTES_PER_DAY));
    for (let m = 0; m < MINUTES_PER_DAY; m++) {
      if ((base + m - f.phase) % f.period !== 0) continue;
      const u = rng.next();
      out[m] = u < 0.01 ? 0 : perFire + (u > 0.98 ? 1 : 0);
    }
    return;
  }
  if (f.shape === 'bursty') {
    // On/off: bursts of a few minutes, long silences; the day's volume is carried by the bursts.
    const onShare = f.onMean / (f.onMean + f.offMean);
    const rateOn = f.daily / (MINUTES_PER_DAY * onShare);
    let on = rng.next() < onShare;
    let left = rng.exp() * (on ? f.onMean : f.offMean);
    for (let m = 0; m < MINUTES_PER_DAY; m++) {
      while (left <= 0) {
        on = !on;
        left += rng.exp() * (on ? f.onMean : f.offMean);
      }
      left -= 1;
      if (on) out[m] = rng.poisson(rateOn * rng.uniform(0.5, 1.5));
    }
    return;
  }
  const mean = f.daily / MINUTES_PER_DAY;
  for (let m = 0; m < MINUTES_PER_DAY; m++) {
    const diurnal = 1 + f.amplitude * Math.sin((2 * Math.PI * (m - f.phase * 7)) / MINUTES_PER_DAY);
    out[m] = rng.poisson(mean * diurnal);
  }
}

async function write(stream: WriteStream, chunk: string): Promise<void> {
  if (!stream.write(chunk)) await once(stream, 'drain');
}

async function close(stream: WriteStream): Promise<void> {
  stream.end();
  await once(stream, 'finish');
}

const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(3));

export async function synthesizeTrace(opts: SynthOptions): Promise<SynthSummary> {
  if (!Number.isInteger(opts.functions) || opts.functions < 1) throw new Error(`functions must be a positive integer, got ${opts.functions}`);
  if (!Number.isInteger(opts.days) || opts.days < 1 || opts.days > 99) throw new Error(`days must be an integer in 1..99, got ${opts.days}`);
  await mkdir(opts.outDir, { recursive: true });
  const { fns, apps } = planFunctions(opts.functions, opts.seed);
  const files: string[] = [];
  let invocations = 0;
  const counts = new Int32Array(MINUTES_PER_DAY);
  for (let d = 0; d < opts.days; d++) {
    const names = traceFileNames(dayLabel(d + 1));
    const inv = createWriteStream(join(opts.outDir, names.invocations));
    const dur = createWriteStream(join(opts.outDir, names.durations));
    const mem = createWriteStream(join(opts.outDir, names.memory));
    files.push(names.invocations, names.durations, names.memory);
    await write(inv, invocationHeader() + '\n');
    await write(dur, DURATION_COLUMNS.join(',') + '\n');
    await write(mem, MEMORY_COLUMNS.join(',') + '\n');
    const appInvocations = new Float64Array(apps.length);
    for (const f of fns) {
      minutesOf(f, d, opts.seed, counts);
      let total = 0;
      for (let m = 0; m < MINUTES_PER_DAY; m++) total += counts[m]!;
      invocations += total;
      appInvocations[f.appIndex]! += total;
      await write(inv, `${f.owner},${f.app},${f.hash},${f.trigger},${counts.join(',')}\n`);
      if (total === 0) continue; // the dataset lists durations only for functions that ran that day
      const pct = (z: number): number => Math.max(1, f.medianMs * Math.exp(f.sigma * z));
      const p = Object.fromEntries(Object.entries(DURATION_Z).map(([k, z]) => [k, pct(z)]));
      const avg = f.medianMs * Math.exp((f.sigma * f.sigma) / 2);
      const cells = [f.owner, f.app, f.hash, fmt(avg), String(total), fmt(Math.round(p['0']!)), fmt(Math.round(p['100']!))];
      for (const k of ['0', '1', '25', '50', '75', '99', '100']) cells.push(fmt(Math.round(p[k]!)));
      await write(dur, cells.join(',') + '\n');
    }
    for (let a = 0; a < apps.length; a++) {
      const app = apps[a]!;
      const cells = [app.owner, app.app, String(Math.max(1, Math.round(appInvocations[a]! / 10) + 1)), fmt(app.memoryMB)];
      for (const z of Object.values(MEMORY_Z)) cells.push(fmt(app.memoryMB * Math.exp(app.memorySpread * z)));
      await write(mem, cells.join(',') + '\n');
    }
    await Promise.all([close(inv), close(dur), close(mem)]);
  }
  return { functions: fns.length, apps: apps.length, days: opts.days, invocations, files };
}
