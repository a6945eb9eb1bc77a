/** File names and column layouts of the Azure Functions 2019 trace (see types.ts). */

export const MINUTES_PER_DAY = 1440;

/** `d01`, `d02`, … as in the dataset's file names. */
export function dayLabel(day: number): string {
  return `d${String(day).padStart(2, '0')}`;
}

export function traceFileNames(day: string): { invocations: string; durations: string; memory: string } {
  return {
    invocations: `invocations_per_function_md.anon.${day}.csv`,
    durations: `function_durations_percentiles.anon.${day}.csv`,
    memory: `app_memory_percentiles.anon.${day}.csv`,
  };
}

export const INVOCATIONS_FILE_PATTERN = /^invocations_per_function_md\.anon\.(d\d+)\.csv$/;

export const INVOCATION_KEY_COLUMNS = ['HashOwner', 'HashApp', 'HashFunction', 'Trigger'] as const;

export const DURATION_PERCENTILES = ['0', '1', '25', '50', '75', '99', '100'] as const;
export const DURATION_COLUMNS = [
  'HashOwner',
  'HashApp',
  'HashFunction',
  'Average',
  'Count',
  'Minimum',
  'Maximum',
  ...DURATION_PERCENTILES.map((p) => `percentile_Average_${p}`),
] as const;

export const MEMORY_PERCENTILES = ['1', '5', '25', '50', '75', '95', '99', '100'] as const;
export const MEMORY_COLUMNS = [
  'HashOwner',
  'HashApp',
  'SampleCount',
  'AverageAllocatedMb',
  ...MEMORY_PERCENTILES.map((p) => `AverageAllocatedMb_pct${p}`),
] as const;

export function invocationHeader(minutes = MINUTES_PER_DAY): string {
  const cols: string[] = [...INVOCATION_KEY_COLUMNS];
  for (let m = 1; m <= minutes; m++) cols.push(String(m));
  return cols.join(',');
}

/** The Trigger of a function whose invocations file has no Trigger column (In-Vitro's derived traces may lack it). */
export const UNKNOWN_TRIGGER = 'unknown';
