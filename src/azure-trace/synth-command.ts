import { parseArgs } from 'node:util';
import { synthesizeTrace } from './synthesize.js';

export const TRACE_SYNTH_USAGE = `Usage: hivelab trace synth --functions N --days D --out DIR [--seed S]

Writes a synthetic trace in the Azure Functions 2019 format (invocations_per_function_md,
function_durations_percentiles, app_memory_percentiles; one set of files per day) into DIR.
The same seed always gives the same files.

  --functions N   number of functions (required)
  --days D        number of days, 1..99 (default 1)
  --out DIR       output folder, created if missing (required)
  --seed S        integer seed (default 1)`;

function positiveInt(name: string, v: string | undefined, dflt?: number): number {
  if (v === undefined) {
    if (dflt === undefined) throw new Error(`--${name} is required`);
    return dflt;
  }
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got "${v}"`);
  return n;
}

/**
 * `hivelab trace synth …` (the `trace` command module dispatches here with the arguments after
 * `synth`). Resolves to the exit code: 0 ok, 2 usage error.
 */
export async function runTraceSynth(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        functions: { type: 'string' },
        days: { type: 'string' },
        out: { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${TRACE_SYNTH_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    out(TRACE_SYNTH_USAGE + '\n');
    return 0;
  }
  let functions: number, days: number, seed: number;
  try {
    functions = positiveInt('functions', values.functions as string | undefined);
    days = positiveInt('days', values.days as string | undefined, 1);
    seed = positiveInt('seed', values.seed as string | undefined, 1);
    if (functions < 1) throw new Error('--functions must be at least 1');
    if (days < 1) throw new Error('--days must be at least 1');
    if (!values.out) throw new Error('--out is required');
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${TRACE_SYNTH_USAGE}\n`);
    return 2;
  }
  const t0 = performance.now();
  const s = await synthesizeTrace({ functions, days, seed, outDir: values.out as string });
  out(
    `wrote ${s.files.length} files to ${values.out}: ${s.functions} functions in ${s.apps} apps, ` +
      `${s.days} day(s), ${s.invocations} invocations (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
  );
  return 0;
}
