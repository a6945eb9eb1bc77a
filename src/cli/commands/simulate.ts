import { parseArgs } from 'node:util';
import { writeFile } from 'node:fs/promises';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { readAzureTrace } from '../../azure-trace/reader.js';
import { policyNames } from '../../autoscaler/registry.js';
import { simulateTrace } from '../../simulator/simulate.js';
import { formatComparison, summary } from '../../simulator/report.js';
import type { ArrivalSpread } from '../../simulator/arrivals.js';

const usage = `
usage: hivelab simulate --trace DIR --policy NAME[,NAME...] [--json] [options]

Runs scaling policies on a virtual clock against an invocation trace in the Azure Functions 2019
format (hivelab trace synth writes one) and reports cold starts and idle memory per policy. Every
policy sees the same invocations (same seed).

  --trace DIR|FILE     Azure 2019 day files as published (invocations_per_function_md.anon.dNN.csv
                       + durations, memory), an In-Vitro folder (invocations.csv, durations.csv,
                       memory.csv: its examples, its sampler's samples/SIZE/), or the Azure 2021
                       invocation log (app,func,end_timestamp,duration)
  --policy NAMES       one or more of: ${policyNames().join(', ')} (comma separated)
  --days N             use the first N days of the trace (default: all)
  --functions N        use only the first N functions
  --keep-alive S       keepAliveS for fixed-keepalive (default 600)
  --concurrency N      requests per instance (default 1)
  --arrivals MODE      uniform | equidistant spread within each minute (default uniform)
  --seed S             seed for arrival times and durations (default 1)
  --timeline FILE      also write instances alive per minute (CSV: minute,<policy>...)
  --json               one policy: {functions, invocations, coldStartPct, idleMemoryGBs,
                       simulatedSeconds, wallSeconds (simulation only), policy}; several: an array
`;

function intOpt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got "${v}"`);
  return n;
}

const command: Command = {
  summary: 'simulate scaling policies against an Azure Functions trace',
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        trace: { type: 'string' },
        policy: { type: 'string', default: 'kpa' },
        days: { type: 'string' },
        functions: { type: 'string' },
        'keep-alive': { type: 'string' },
        concurrency: { type: 'string' },
        arrivals: { type: 'string', default: 'uniform' },
        seed: { type: 'string' },
        timeline: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    });
    if (!values.trace) throw new UsageError('--trace DIR is required');
    const policies = values.policy.split(',').map((p) => p.trim()).filter(Boolean);
    const known = policyNames();
    for (const p of policies) if (!known.includes(p)) throw new UsageError(`unknown policy "${p}" (known: ${known.join(', ')})`);
    if (values.arrivals !== 'uniform' && values.arrivals !== 'equidistant') {
      throw new UsageError(`--arrivals must be uniform or equidistant, got "${values.arrivals}"`);
    }
    const days = intOpt('days', values.days);
    const maxFunctions = intOpt('functions', values.functions);
    const keepAliveS = values['keep-alive'] !== undefined ? Number(values['keep-alive']) : undefined;
    if (keepAliveS !== undefined && !(keepAliveS >= 0)) throw new UsageError(`--keep-alive must be seconds ≥ 0, got "${values['keep-alive']}"`);
    const concurrency = intOpt('concurrency', values.concurrency);
    const seed = intOpt('seed', values.seed);

    const trace = await readAzureTrace(values.trace, days !== undefined ? { days } : {});
    if (maxFunctions !== undefined) trace.functions = trace.functions.slice(0, maxFunctions);
    const results = policies.map((policy) =>
      simulateTrace(trace, {
        policy,
        arrivals: values.arrivals as ArrivalSpread,
        ...(seed !== undefined ? { seed } : {}),
        ...(concurrency !== undefined ? { concurrency } : {}),
        ...(keepAliveS !== undefined ? { scaling: { keepAliveS } } : {}),
      }),
    );
    if (values.timeline) {
      const lines = [['minute', ...results.map((r) => r.policy)].join(',')];
      for (let m = 0; m < trace.minutes; m++) lines.push([m, ...results.map((r) => r.instancesPerMinute[m]!)].join(','));
      await writeFile(values.timeline, lines.join('\n') + '\n');
    }
    if (values.json) {
      const out = results.map(summary);
      console.log(JSON.stringify(out.length === 1 ? out[0] : out, null, 2));
      return 0;
    }
    console.log(
      `trace ${values.trace} (${trace.day}): ${trace.functions.length} functions, ${trace.minutes} minutes, ${results[0]?.invocations ?? 0} invocations`,
    );
    console.log(formatComparison(results));
    return 0;
  },
};
export default command;
