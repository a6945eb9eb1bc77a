import type { AzureFunctionTrace, AzureTrace, DurationPercentiles } from './types.js';
import { readLines } from './line-reader.js';
import { CsvRow, headerIndex } from './csv-row.js';
import { TraceFormatError } from './errors.js';
import { DURATION_PERCENTILES } from './format.js';
import { percentile } from '../core/percentile.js';

/**
 * The Azure Functions 2021 invocation log (AzurePublicDataset AzureFunctionsInvocationTrace2021):
 * one row per invocation, `app,func,end_timestamp,duration` (seconds since the trace start,
 * seconds), columns in any order. Read into the per-minute shape the simulator and replay take,
 * the way In-Vitro's sampler/preprocess2021.py does: start = end − duration, binned by
 * floor(start / 60); functions keyed by (app, func) since `func` is unique only within its app; the
 * owner is "0" and the trigger "http" as In-Vitro writes them. Durations become percentiles over the
 * function's own invocations (ms). The log has no memory: functions carry none (In-Vitro assumes
 * 200 MB; the simulator and replay use their defaults).
 */
export const AZURE2021_COLUMNS = ['app', 'func', 'end_timestamp', 'duration'] as const;

export function durationSummary(durationsMs: number[]): DurationPercentiles {
  const sorted = [...durationsMs].sort((a, b) => a - b);
  const percentilesMs: Record<string, number> = {};
  for (const p of DURATION_PERCENTILES) percentilesMs[p] = percentile(sorted, Number(p)); // the platform's one definition (docs/STATISTICS.md)
  return {
    averageMs: sorted.reduce((s, x) => s + x, 0) / sorted.length,
    count: sorted.length,
    minimumMs: sorted[0]!,
    maximumMs: sorted[sorted.length - 1]!,
    percentilesMs,
  };
}

export async function readAzure2021(file: string): Promise<AzureTrace> {
  let idx: Map<string, number> | undefined;
  const byFn = new Map<string, { app: string; func: string; starts: number[]; durationsMs: number[] }>();
  let lastMinute = -1;
  for await (const { line, text } of readLines(file)) {
    if (line === 1) {
      idx = headerIndex(file, text, AZURE2021_COLUMNS);
      continue;
    }
    if (text.trim() === '') continue;
    const row = new CsvRow(file, line, text);
    const h = idx!;
    const app = row.text_(h.get('app')!, 'app');
    const func = row.text_(h.get('func')!, 'func');
    const end = row.number(h.get('end_timestamp')!, 'end_timestamp');
    const dur = row.number(h.get('duration')!, 'duration');
    const start = end - dur;
    if (start < 0) row.fail(h.get('duration')!, `duration ${dur} s is longer than end_timestamp ${end} s (the invocation would start before the trace)`);
    const key = `${app}/${func}`;
    let f = byFn.get(key);
    if (!f) byFn.set(key, (f = { app, func, starts: [], durationsMs: [] }));
    f.starts.push(start);
    f.durationsMs.push(dur * 1000);
    lastMinute = Math.max(lastMinute, Math.floor(start / 60));
  }
  if (!idx) throw new TraceFormatError(file, 1, 1, 'empty file: expected a header row');
  const minutes = lastMinute + 1;
  const functions: AzureFunctionTrace[] = [];
  for (const f of byFn.values()) {
    const perMinute = new Array<number>(minutes).fill(0);
    for (const s of f.starts) perMinute[Math.floor(s / 60)]!++;
    functions.push({ hashOwner: '0', hashApp: f.app, hashFunction: f.func, trigger: 'http', perMinute, duration: durationSummary(f.durationsMs) });
  }
  return { day: '2021', minutes, functions };
}
