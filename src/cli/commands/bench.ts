import { onInterrupt } from '../../benchkit/interrupt.js';
import { raiseClientPriority } from '../../benchkit/client-priority.js';
import { niceOption, niceUsage, parseNice } from '../nice-option.js';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { ExperimentError, loadExperiment, type Experiment } from '../../benchkit/experiment.js';
import { EndpointsProvider, readEndpointsFile } from '../../benchkit/providers/endpoints.js';
import { HivelabProvider, readPlatformAccess } from '../../benchkit/providers/hivelab.js';
import { KnativeProvider } from '../../benchkit/providers/knative.js';
import type { Provider, ProviderContext } from '../../benchkit/providers/provider.js';
import { jsonSummary, runExperiment } from '../../benchkit/runner.js';
import { statePaths } from '../../config/state.js';
import { UsageError, parseCommandArgs, type Command } from '../command.js';

const usage = `hivelab bench EXPERIMENT [options]

Runs a STeLLAR-style experiment file (JSON or YAML; see experiments/) and writes, per
sub-experiment, latencies.csv, statistics.csv, summary.json and latency plots (SVG + PNG), plus
report.html and table-3.1.csv across sub-experiments.

Options:
  --out DIR          output folder (default: bench-results/<experiment>-<time>)
  --only N           run only sub-experiment N (0-based, as in the output folder names)
  --json             print {subExperiments:[{title,count,errors,p50Ms,p99Ms,tmr,coldCount,clientLagP99Ms}]}
  --endpoints FILE   JSON array of URLs for provider "endpoints"
  --state DIR        Hivelab state folder for provider "hivelab" (default: $HIVELAB_STATE or ./.hivelab)
  --namespace NS     Kubernetes namespace for provider "knative" (default: default)
  --no-plots         skip the plots (faster on very large runs)
${niceUsage}
  -h, --help         this text

Exit codes: 0 ok; 1 error; 2 usage or invalid experiment; 3 the client's send lag exceeded
maxSendLagP99Ms (results are written but distorted); 130 interrupted (results so far written).`;

export async function makeProvider(exp: Experiment, ctx: ProviderContext, o: { endpointsFile?: string; state?: string; namespace?: string }): Promise<Provider> {
  switch (exp.provider) {
    case 'endpoints':
      return new EndpointsProvider(o.endpointsFile ? await readEndpointsFile(o.endpointsFile) : undefined);
    case 'hivelab':
      return new HivelabProvider(await readPlatformAccess(statePaths(o.state).root), ctx);
    case 'knative':
      return new KnativeProvider(ctx, { namespace: o.namespace });
  }
}

const command: Command = {
  summary: 'run a STeLLAR-style latency experiment (median, tail, TMR, plots, report)',
  usage,
  async run(argv) {
    const parsed = parseCommandArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        only: { type: 'string' },
        json: { type: 'boolean', default: false },
        endpoints: { type: 'string' },
        state: { type: 'string' },
        namespace: { type: 'string' },
        'no-plots': { type: 'boolean', default: false },
        ...niceOption,
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    const { values: v, positionals } = parsed;
    if (v.help) {
      process.stdout.write(usage + '\n');
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError('expected exactly one EXPERIMENT file');
    let only: number | undefined;
    if (v.only !== undefined) {
      only = Number(v.only);
      if (!Number.isInteger(only) || only < 0) throw new UsageError(`--only must be a sub-experiment index ≥ 0, got "${v.only}"`);
    }
    const nice = parseNice(v.nice!);
    const file = resolve(positionals[0]!);
    let exp: Experiment;
    try {
      exp = await loadExperiment(file);
    } catch (e) {
      if (e instanceof ExperimentError || (e as NodeJS.ErrnoException).code === 'ENOENT') {
        process.stderr.write(`${(e as Error).message}\n`);
        return 2;
      }
      throw e;
    }
    const name = file.split('/').pop()!.replace(/\.(ya?ml|json)$/, '');
    const outDir = resolve(v.out ?? join('bench-results', `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`));
    const log = (l: string): void => void process.stderr.write(l + '\n');
    const ctx: ProviderContext = { experimentDir: dirname(file), outDir, runId: randomBytes(3).toString('hex'), log };
    const provider = await makeProvider(exp, ctx, { endpointsFile: v.endpoints, state: v.state, namespace: v.namespace });

    raiseClientPriority(nice, log);
    const interrupt = onInterrupt(log);
    try {
      const res = await runExperiment(exp, { outDir, provider, only, signal: interrupt.signal, progress: process.stderr.isTTY, plots: !v['no-plots'], log, title: `hivelab bench ${name}` });
      if (v.json) process.stdout.write(JSON.stringify(jsonSummary(res.subs)) + '\n');
      if (res.reportFile) log(`report: ${res.reportFile}`);
      if (res.interrupted) return 130;
      if (res.lagViolations.length) {
        for (const l of res.lagViolations) log(`ERROR ${l}`);
        return 3;
      }
      return 0;
    } finally {
      interrupt.dispose();
    }
  },
};

export default command;
