import { onInterrupt } from '../../benchkit/interrupt.js';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readAzureTrace } from '../../azure-trace/reader.js';
import { resolveFunctionDir } from '../../benchkit/providers/function-source.js';
import { HivelabProvider, readPlatformAccess } from '../../benchkit/providers/hivelab.js';
import { DEFAULT_REPLAY_OPTIONS, planReplay, WITHIN_MINUTE_IATS, type WithinMinuteIat } from '../../benchkit/replay/planner.js';
import { runReplay } from '../../benchkit/replay/run.js';
import { statePaths } from '../../config/state.js';
import { UsageError, parseCommandArgs, type Command } from '../command.js';
import { raiseClientPriority } from '../../benchkit/client-priority.js';
import { niceOption, niceUsage, parseNice } from '../nice-option.js';

const usage = `hivelab replay --trace DIR [options]

Trace-driven load (In-Vitro): reads an Azure Functions 2019 trace (invocations_per_function_md,
function_durations_percentiles, app_memory_percentiles .anon.dNN.csv), samples N functions, deploys
one synthetic function (bench-functions/bench-trace) per sampled function with its app's memory,
and replays their per-minute invocation counts open-loop; each invocation runs for a duration drawn
from its function's duration percentiles. Writes invocations.csv, statistics, plots, report.html.

Options:
  --trace DIR|FILE   the trace (required): Azure 2019 day files, an In-Vitro folder
                     (invocations.csv, durations.csv, memory.csv) or the Azure 2021 log
  --sample N         functions to sample (default ${DEFAULT_REPLAY_OPTIONS.sample})
  --minutes M        minutes of the trace to replay from its start (default ${DEFAULT_REPLAY_OPTIONS.minutes})
  --iat KIND         within-minute arrivals: ${WITHIN_MINUTE_IATS.join(' | ')} (default ${DEFAULT_REPLAY_OPTIONS.iat})
  --seed S           sampling and draws seed (default 1)
  --max-duration-ms  cap on a drawn execution time (default ${DEFAULT_REPLAY_OPTIONS.maxDurationMs})
  --out DIR          output folder (default bench-results/replay-<time>)
  --state DIR        Hivelab state folder (default: $HIVELAB_STATE or ./.hivelab)
  --plan-only        write plan.json and exit without deploying or sending
  --no-plots         skip plots
${niceUsage}
  -h, --help         this text

Exit codes: 0 ok; 1 error; 2 usage; 3 client send lag p99 > 1 ms (results distorted); 130 interrupted.`;

function intOpt(name: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${v}"`);
  return n;
}

const command: Command = {
  summary: 'replay an Azure Functions trace against the platform (In-Vitro style)',
  usage,
  async run(argv) {
    const parsed = parseCommandArgs({
      args: argv,
      options: {
        trace: { type: 'string' },
        sample: { type: 'string' },
        minutes: { type: 'string' },
        iat: { type: 'string' },
        seed: { type: 'string' },
        'max-duration-ms': { type: 'string' },
        out: { type: 'string' },
        state: { type: 'string' },
        'plan-only': { type: 'boolean', default: false },
        'no-plots': { type: 'boolean', default: false },
        ...niceOption,
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    const v = parsed.values;
    if (v.help) {
      process.stdout.write(usage + '\n');
      return 0;
    }
    if (!v.trace) throw new UsageError('--trace DIR is required');
    const nice = parseNice(v.nice!);
    const iat = (v.iat ?? DEFAULT_REPLAY_OPTIONS.iat) as WithinMinuteIat;
    if (!WITHIN_MINUTE_IATS.includes(iat)) throw new UsageError(`--iat must be one of ${WITHIN_MINUTE_IATS.join(', ')}, got "${v.iat}"`);
    const opts = {
      sample: intOpt('sample', v.sample, DEFAULT_REPLAY_OPTIONS.sample, 1),
      minutes: intOpt('minutes', v.minutes, DEFAULT_REPLAY_OPTIONS.minutes, 1),
      seed: intOpt('seed', v.seed, 1, 0),
      maxDurationMs: intOpt('max-duration-ms', v['max-duration-ms'], DEFAULT_REPLAY_OPTIONS.maxDurationMs, 0),
      iat,
    };
    const log = (l: string): void => void process.stderr.write(l + '\n');
    const trace = await readAzureTrace(resolve(v.trace));
    const plan = planReplay(trace, opts);
    const outDir = resolve(v.out ?? join('bench-results', `replay-${new Date().toISOString().replace(/[:.]/g, '-')}`));
    await mkdir(outDir, { recursive: true });
    await writeFile(join(outDir, 'plan.json'), JSON.stringify({ options: opts, functions: plan.functions, invocations: plan.invocations.length }, null, 2) + '\n');
    log(`plan: ${plan.functions.length} functions, ${plan.invocations.length} invocations over ${plan.minutes} min → ${outDir}`);
    if (v['plan-only']) return 0;

    const runId = randomBytes(3).toString('hex');
    const provider = new HivelabProvider(await readPlatformAccess(statePaths(v.state).root), { experimentDir: process.cwd(), outDir, runId, log });
    raiseClientPriority(nice, log);
    const interrupt = onInterrupt(log);
    try {
      const source = resolveFunctionDir('bench-trace', process.cwd());
      const urls: string[] = [];
      for (const f of plan.functions) {
        urls.push(await provider.deployCopy(source, `trace-${runId}-${f.index}`, { memoryMB: f.memoryMB, timeoutMs: Math.max(30_000, opts.maxDurationMs * 3) }, `trace function ${f.hashFunction}`));
      }
      const res = await runReplay(plan, { urls, headers: provider.invokeHeaders() }, { outDir, signal: interrupt.signal, progress: process.stderr.isTTY, plots: !v['no-plots'], log });
      if (res.interrupted) return 130;
      if (res.violation) {
        log(`ERROR ${res.violation}`);
        return 3;
      }
      return 0;
    } finally {
      interrupt.dispose();
      await provider.teardown();
    }
  },
};

export default command;
