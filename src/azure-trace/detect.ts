import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readLines } from './line-reader.js';
import { INVOCATIONS_FILE_PATTERN } from './format.js';
import { AZURE2021_COLUMNS } from './azure2021.js';

/**
 * Which trace a path holds, by its files and their header rows:
 *   azure2019  a folder of the published day files `invocations_per_function_md.anon.dNN.csv` (+ durations, memory)
 *   invitro    a folder with In-Vitro's `invocations.csv` (+ `durations.csv`, `memory.csv`): its example
 *              traces, its sampler output (`samples/SIZE/`), its 2021 preprocessing output
 *   azure2021  the Azure Functions 2021 invocation log (`app,func,end_timestamp,duration`, any file
 *              name: the published .txt, In-Vitro's Azure2021_*.csv) given as a file, or a folder
 *              holding exactly one such file
 * Anything else is refused with the list of what would have been read.
 */
export const INVITRO_FILES = { invocations: 'invocations.csv', durations: 'durations.csv', memory: 'memory.csv' } as const;

export type TraceLayout = { kind: 'azure2019'; days: string[] } | { kind: 'invitro' } | { kind: 'azure2021'; file: string };

export class UnknownTraceError extends Error {
  constructor(path: string, found: string) {
    super(
      `${path}: not a trace Hivelab reads (${found}). Expected one of:\n` +
        `  - Azure Functions 2019 as published: invocations_per_function_md.anon.dNN.csv (HashOwner,HashApp,HashFunction,Trigger,1,2,…,1440)\n` +
        `    [+ function_durations_percentiles.anon.dNN.csv, app_memory_percentiles.anon.dNN.csv]\n` +
        `  - In-Vitro's folders (data/traces/example, sampler output samples/SIZE/): invocations.csv (HashOwner,HashApp,HashFunction[,Trigger],minute columns)\n` +
        `    [+ durations.csv (…,Average,Count,Minimum,Maximum,percentile_Average_0…100), memory.csv (…,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1…100)]\n` +
        `  - Azure Functions 2021: a file with the columns ${AZURE2021_COLUMNS.join(',')} (or a folder holding exactly one)`,
    );
    this.name = 'UnknownTraceError';
  }
}

async function headerOf(file: string): Promise<string[] | undefined> {
  try {
    for await (const { text } of readLines(file)) return text.split(',').map((s) => s.trim());
  } catch {
    return undefined;
  }
  return undefined;
}

function is2021Header(cols: string[] | undefined): boolean {
  return cols !== undefined && AZURE2021_COLUMNS.every((c) => cols.includes(c));
}

export async function detectTraceLayout(path: string): Promise<TraceLayout> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new Error(`cannot read trace ${path}: ${(e as Error).message}`);
  }
  if (st.isFile()) {
    const cols = await headerOf(path);
    if (is2021Header(cols)) return { kind: 'azure2021', file: path };
    throw new UnknownTraceError(path, `a file whose header is "${(cols ?? []).slice(0, 6).join(',')}${(cols?.length ?? 0) > 6 ? ',…' : ''}"`);
  }
  const names = (await readdir(path)).sort();
  const days = names.map((n) => INVOCATIONS_FILE_PATTERN.exec(n)?.[1]).filter((d): d is string => d !== undefined);
  if (days.length) return { kind: 'azure2019', days };
  if (names.includes(INVITRO_FILES.invocations)) return { kind: 'invitro' };
  const candidates: string[] = [];
  for (const n of names) {
    if (!/\.(csv|txt)$/i.test(n)) continue;
    if (is2021Header(await headerOf(join(path, n)))) candidates.push(n);
  }
  if (candidates.length === 1) return { kind: 'azure2021', file: join(path, candidates[0]!) };
  if (candidates.length > 1) throw new Error(`${path} holds several Azure 2021 traces (${candidates.join(', ')}): name one file`);
  if (names.includes('samples')) {
    const sizes = (await readdir(join(path, 'samples')).catch(() => [] as string[])).sort();
    throw new Error(`${path} is In-Vitro sampler output: name one sample, e.g. ${join(path, 'samples', sizes[0] ?? 'SIZE')} (sizes: ${sizes.join(', ') || 'none'})`);
  }
  throw new UnknownTraceError(path, names.length ? `found ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''}` : 'an empty folder');
}
