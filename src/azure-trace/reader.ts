import { access, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { detectTraceLayout, INVITRO_FILES } from './detect.js';
import { readAzure2021 } from './azure2021.js';
import type { AzureFunctionTrace, AzureTrace, DurationPercentiles, MemoryPercentiles } from './types.js';
import { readLines } from './line-reader.js';
import { CsvRow, headerIndex } from './csv-row.js';
import { TraceFormatError } from './errors.js';
import {
  DURATION_COLUMNS,
  DURATION_PERCENTILES,
  INVOCATION_KEY_COLUMNS,
  INVOCATIONS_FILE_PATTERN,
  MEMORY_COLUMNS,
  MEMORY_PERCENTILES,
  traceFileNames,
  UNKNOWN_TRIGGER,
} from './format.js';

/**
 * Reader for the Azure Functions 2019 trace. Accepts the published files unchanged (header row,
 * per-minute columns "1".."1440", percentile columns), streams them line by line so the 46 k-function
 * days fit, and fails on the first malformed cell with `file:line:column`.
 */

export const functionKey = (owner: string, app: string, fn: string): string => `${owner}/${app}/${fn}`;
export const appKey = (owner: string, app: string): string => `${owner}/${app}`;

/**
 * An invocations file: the key columns HashOwner, HashApp, HashFunction (and Trigger, optional: the
 * traces In-Vitro derives may lack it) anywhere in the header; every other column is a minute, in
 * file order. Minute labels must be whole numbers counting up by one, but need not start at 1: a
 * slice of a day (In-Vitro's tools/mapper test files start at minute 540) reads as its own timeline,
 * as In-Vitro reads minute columns by position.
 */
export async function readInvocations(file: string): Promise<{ minutes: number; functions: AzureFunctionTrace[] }> {
  const functions: AzureFunctionTrace[] = [];
  let width = 0;
  let minuteCols: number[] = [];
  let key: { owner: number; app: number; fn: number; trigger: number } | undefined;
  for await (const { line, text } of readLines(file)) {
    if (line === 1) {
      const idx = headerIndex(file, text, INVOCATION_KEY_COLUMNS.filter((c) => c !== 'Trigger'));
      const names = text.split(',').map((s) => s.trim());
      key = { owner: idx.get('HashOwner')!, app: idx.get('HashApp')!, fn: idx.get('HashFunction')!, trigger: idx.get('Trigger') ?? -1 };
      const keys = new Set([key.owner, key.app, key.fn, key.trigger]);
      minuteCols = names.map((_, i) => i).filter((i) => !keys.has(i));
      let prev: number | undefined;
      for (const i of minuteCols) {
        const n = names[i]!;
        const col = names.slice(0, i).join(',').length + (i > 0 ? 2 : 1);
        if (!/^\d+$/.test(n)) throw new TraceFormatError(file, 1, col, `expected a minute column (a whole number) or one of ${INVOCATION_KEY_COLUMNS.join(',')}, found "${n}"`);
        if (prev !== undefined && Number(n) !== prev + 1) throw new TraceFormatError(file, 1, col, `minute columns must count up by one: "${n}" follows "${prev}"`);
        prev = Number(n);
      }
      if (minuteCols.length === 0) throw new TraceFormatError(file, 1, 1, 'header has no minute columns');
      width = names.length;
      continue;
    }
    if (text.trim() === '') continue;
    const row = new CsvRow(file, line, text);
    if (row.cells.length !== width) {
      row.fail(Math.min(row.cells.length, width), `expected ${width} cells (${width - minuteCols.length} keys + ${minuteCols.length} minutes), found ${row.cells.length}`);
    }
    const minutes = minuteCols.length;
    const perMinute = new Array<number>(minutes);
    for (let m = 0; m < minutes; m++) {
      const ci = minuteCols[m]!;
      const c = row.cells[ci]!;
      // Fast path for the common case of a small non-negative integer.
      perMinute[m] = c.length > 0 && c.length < 10 && /^\d+$/.test(c) ? +c : row.count(ci, `minute ${m + 1}`);
    }
    const k = key!;
    functions.push({
      hashOwner: row.text_(k.owner, 'HashOwner'),
      hashApp: row.text_(k.app, 'HashApp'),
      hashFunction: row.text_(k.fn, 'HashFunction'),
      trigger: k.trigger >= 0 ? row.text_(k.trigger, 'Trigger') : UNKNOWN_TRIGGER,
      perMinute,
    });
  }
  if (width === 0) throw new TraceFormatError(file, 1, 1, 'empty file: expected a header row');
  return { minutes: minuteCols.length, functions };
}

/**
 * The data rows of a CSV file whose header must name `columns` (in any order): each row with
 * `at(column)`, the cell index of a named column, failing with file:line:col when the row is short.
 */
async function* headedRows(
  file: string,
  columns: readonly string[],
): AsyncGenerator<{ row: CsvRow; at: (name: string) => number; has: (name: string) => boolean }> {
  let idx: Map<string, number> | undefined;
  for await (const { line, text } of readLines(file)) {
    if (line === 1) {
      idx = headerIndex(file, text, columns);
      continue;
    }
    if (text.trim() === '') continue;
    const row = new CsvRow(file, line, text);
    const header = idx!;
    const at = (name: string): number => {
      const i = header.get(name)!;
      if (i >= row.cells.length) row.fail(row.cells.length, `row ends before column ${name} (${row.cells.length} cells)`);
      return i;
    };
    yield { row, at, has: (name) => header.has(name) };
  }
  if (!idx) throw new TraceFormatError(file, 1, 1, 'empty file: expected a header row');
}

export async function readDurations(file: string): Promise<Map<string, DurationPercentiles>> {
  const out = new Map<string, DurationPercentiles>();
  for await (const { row, at } of headedRows(file, DURATION_COLUMNS)) {
    const percentilesMs: Record<string, number> = {};
    for (const p of DURATION_PERCENTILES) percentilesMs[p] = row.number(at(`percentile_Average_${p}`), `percentile_Average_${p}`);
    out.set(functionKey(row.text_(at('HashOwner'), 'HashOwner'), row.text_(at('HashApp'), 'HashApp'), row.text_(at('HashFunction'), 'HashFunction')), {
      averageMs: row.number(at('Average'), 'Average'),
      count: row.number(at('Count'), 'Count'),
      minimumMs: row.number(at('Minimum'), 'Minimum'),
      maximumMs: row.number(at('Maximum'), 'Maximum'),
      percentilesMs,
    });
  }
  return out;
}

/** Memory rows keyed by `owner/app` (the published per-app files) or `owner/app/function` if the file has HashFunction. */
export async function readMemory(file: string): Promise<Map<string, MemoryPercentiles>> {
  const out = new Map<string, MemoryPercentiles>();
  for await (const { row, at, has } of headedRows(file, MEMORY_COLUMNS)) {
    const percentilesMB: Record<string, number> = {};
    for (const p of MEMORY_PERCENTILES) percentilesMB[p] = row.number(at(`AverageAllocatedMb_pct${p}`), `AverageAllocatedMb_pct${p}`);
    const owner = row.text_(at('HashOwner'), 'HashOwner');
    const app = row.text_(at('HashApp'), 'HashApp');
    // In-Vitro's derived traces add HashFunction (memory per function); the published files are per app.
    const key = has('HashFunction') ? functionKey(owner, app, row.text_(at('HashFunction'), 'HashFunction')) : appKey(owner, app);
    out.set(key, {
      sampleCount: row.number(at('SampleCount'), 'SampleCount'),
      averageMB: row.number(at('AverageAllocatedMb'), 'AverageAllocatedMb'),
      percentilesMB,
    });
  }
  return out;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** Day labels (`d01`, …) whose invocation file is in `dir`, sorted. */
export async function listTraceDays(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new Error(`cannot read trace directory ${dir}: ${(e as Error).message}`);
  }
  return names
    .map((n) => INVOCATIONS_FILE_PATTERN.exec(n)?.[1])
    .filter((d): d is string => d !== undefined)
    .sort();
}

/** Joins durations and memory onto the functions of an invocations file. */
async function readTrio(label: string, files: { invocations: string; durations: string; memory: string }): Promise<AzureTrace> {
  const { minutes, functions } = await readInvocations(files.invocations);
  const durations = (await exists(files.durations)) ? await readDurations(files.durations) : undefined;
  const memory = (await exists(files.memory)) ? await readMemory(files.memory) : undefined;
  for (const f of functions) {
    const d = durations?.get(functionKey(f.hashOwner, f.hashApp, f.hashFunction));
    if (d) f.duration = d;
    const m = memory?.get(functionKey(f.hashOwner, f.hashApp, f.hashFunction)) ?? memory?.get(appKey(f.hashOwner, f.hashApp));
    if (m) f.memory = m;
  }
  return { day: label, minutes, functions };
}

/**
 * One day. The durations and memory files are optional (the published memory files cover fewer days
 * than the invocation files); functions then simply lack `duration` / `memory`.
 */
export async function readTraceDay(dir: string, day: string): Promise<AzureTrace> {
  const names = traceFileNames(day);
  const invFile = join(dir, names.invocations);
  if (!(await exists(invFile))) throw new Error(`trace day ${day}: ${invFile} not found`);
  return readTrio(day, { invocations: invFile, durations: join(dir, names.durations), memory: join(dir, names.memory) });
}

export interface ReadTraceOptions {
  /** Which days: labels (`['d01','d02']`) or a count of the first N days found. Default: all. */
  days?: string[] | number;
}

/**
 * The trace in `dir`, several days joined into one timeline: a function's per-minute counts are
 * concatenated (zeros on days it does not appear); its duration and memory come from the first day
 * that has them.
 */
export async function readAzureTrace(path: string, opts: ReadTraceOptions = {}): Promise<AzureTrace> {
  const layout = await detectTraceLayout(path);
  if (layout.kind === 'invitro') {
    if (opts.days !== undefined && opts.days !== 1 && !(Array.isArray(opts.days) && opts.days.length === 1)) {
      throw new Error(`${path}: an In-Vitro trace folder holds one timeline; --days does not apply`);
    }
    return readTrio(basename(path), { invocations: join(path, INVITRO_FILES.invocations), durations: join(path, INVITRO_FILES.durations), memory: join(path, INVITRO_FILES.memory) });
  }
  if (layout.kind === 'azure2021') return readAzure2021(layout.file);
  const dir = path;
  const found = layout.days;
  let days = found;
  if (Array.isArray(opts.days)) {
    for (const d of opts.days) if (!found.includes(d)) throw new Error(`trace day ${d} not in ${dir} (found ${found.join(', ')})`);
    days = opts.days;
  } else if (typeof opts.days === 'number') {
    days = found.slice(0, opts.days);
  }
  if (days.length === 1) return readTraceDay(dir, days[0]!);
  const byKey = new Map<string, AzureFunctionTrace>();
  let offset = 0;
  for (const day of days) {
    const t = await readTraceDay(dir, day);
    for (const f of t.functions) {
      const key = `${functionKey(f.hashOwner, f.hashApp, f.hashFunction)}/${f.trigger}`;
      let acc = byKey.get(key);
      if (!acc) {
        acc = { ...f, perMinute: new Array<number>(offset).fill(0) };
        byKey.set(key, acc);
      } else {
        acc.duration ??= f.duration;
        acc.memory ??= f.memory;
      }
      if (acc.perMinute.length < offset) acc.perMinute.push(...new Array<number>(offset - acc.perMinute.length).fill(0));
      for (const x of f.perMinute) acc.perMinute.push(x);
    }
    offset += t.minutes;
  }
  const functions = [...byKey.values()];
  for (const f of functions) if (f.perMinute.length < offset) f.perMinute.push(...new Array<number>(offset - f.perMinute.length).fill(0));
  return { day: `${days[0]}-${days[days.length - 1]}`, minutes: offset, functions };
}
