import { onInterrupt } from '../../benchkit/interrupt.js';
import { raiseClientPriority } from '../../benchkit/client-priority.js';
import { niceOption, niceUsage, parseNice } from '../nice-option.js';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { ExperimentError, parseExperiment, readExperimentFile, resolvePathsFrom, type Experiment } from '../../benchkit/experiment.js';
import { EndpointsFileError, EndpointsProvider, readEndpointsFileAny, type EndpointsFile } from '../../benchkit/providers/endpoints.js';
import { convertStellar, isStellarExperiment, type ConvertedStellar } from '../../benchkit/stellar/experiment-file.js';
import { assignStellarEndpoints, StellarEndpointsProvider, stellarGatewayUrl } from '../../benchkit/stellar/endpoints-file.js';
import { stellarRunRoot } from '../../benchkit/stellar/results.js';
import { HivelabProvider, readPlatformAccess } from '../../benchkit/providers/hivelab.js';
import { KnativeProvider } from '../../benchkit/providers/knative.js';
import type { Provider, ProviderContext } from '../../benchkit/providers/provider.js';
import { jsonSummary, runExperiment } from '../../benchkit/runner.js';
import { collapseLagViolations } from '../../benchkit/send-lag.js';
import { statePaths } from '../../config/state.js';
import { UsageError, parseCommandArgs, type Command } from '../command.js';

const usage = `hivelab bench EXPERIMENT [options]

Runs an experiment file: Hivelab's (JSON or YAML; see experiments/) or STeLLAR's own, unchanged
(PascalCase: Sequential, Provider, SubExperiments…). Writes, per sub-experiment, latencies.csv,
statistics.csv, summary.json and latency plots (SVG + PNG), plus report.html and table-3.1.csv
across sub-experiments; for a STeLLAR file also STeLLAR's result folders under stellar/<time>/.
A STeLLAR file runs on this Hivelab (its Function folders next to the file, else bench-spin), or,
with --endpoints, against the endpoints of a STeLLAR endpoints file in STeLLAR's request format.

Options:
  --out DIR          output folder (default: bench-results/<experiment>-<time>)
  --only N           run only sub-experiment N (0-based, as in the output folder names)
  --json             print {subExperiments:[{title,count,errors,p50Ms,p99Ms,tmr,coldCount,clientLagP99Ms}]}
  --endpoints FILE   JSON array of URLs for provider "endpoints", or a STeLLAR endpoints file
                     ([{GatewayID, FunctionMemoryMB, ImageSizeMB, PackageType}])
  --state DIR        Hivelab state folder for provider "hivelab" (default: $HIVELAB_STATE or ./.hivelab)
  --namespace NS     Kubernetes namespace for provider "knative" (default: default)
  --registry REF     provider "knative": where the images \`hivelab build\` makes of the functions are
                     pushed (skopeo) and pulled from (default: registry.local/hivelab)
  --no-plots         skip the plots (faster on very large runs)
${niceUsage}
  -h, --help         this text

Exit codes: 0 ok; 1 error; 2 usage or invalid experiment; 3 the client's send lag exceeded
maxSendLagP99Ms (results are written but distorted); 130 interrupted (results so far written).`;

export async function makeProvider(
  exp: Experiment,
  ctx: ProviderContext,
  o: { endpoints?: EndpointsFile; state?: string; namespace?: string; registry?: string; stellar?: ConvertedStellar },
): Promise<Provider> {
  switch (exp.provider) {
    case 'endpoints': {
      const e = o.endpoints;
      if (o.stellar && e?.kind === 'stellar') {
        const notes: string[] = [];
        const p = new StellarEndpointsProvider(assignStellarEndpoints(e.endpoints, o.stellar.subs, o.stellar.provider, notes));
        for (const n of notes) ctx.log(`note: ${n}`);
        return p;
      }
      const urls = e === undefined ? undefined : e.kind === 'urls' ? e.urls : e.endpoints.map((x) => stellarGatewayUrl(o.stellar?.provider ?? '', x.GatewayID));
      return new EndpointsProvider(urls);
    }
    case 'hivelab':
      return new HivelabProvider(await readPlatformAccess(statePaths(o.state).root), ctx);
    case 'knative':
      return new KnativeProvider(ctx, { namespace: o.namespace, registry: o.registry });
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
        registry: { type: 'string' },
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
    let stellar: ConvertedStellar | undefined;
    let endpoints: EndpointsFile | undefined;
    try {
      if (v.endpoints !== undefined) endpoints = await readEndpointsFileAny(resolve(v.endpoints));
      const raw = await readExperimentFile(file);
      if (isStellarExperiment(raw)) {
        stellar = convertStellar(raw, file, { endpoints: endpoints !== undefined, experimentDir: dirname(file) });
        exp = stellar.experiment;
      } else exp = resolvePathsFrom(parseExperiment(raw, file), file);
    } catch (e) {
      if (e instanceof ExperimentError || e instanceof EndpointsFileError || (e as NodeJS.ErrnoException).code === 'ENOENT') {
        process.stderr.write(`${(e as Error).message}\n`);
        return 2;
      }
      throw e;
    }
    const name = file.split('/').pop()!.replace(/\.(ya?ml|json)$/, '');
    const outDir = resolve(v.out ?? join('bench-results', `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`));
    const log = (l: string): void => void process.stderr.write(l + '\n');
    const ctx: ProviderContext = { experimentDir: dirname(file), outDir, runId: randomBytes(3).toString('hex'), log };
    for (const n of stellar?.notes ?? []) log(`note: ${n}`);
    let provider: Provider;
    try {
      provider = await makeProvider(exp, ctx, { endpoints, state: v.state, namespace: v.namespace, registry: v.registry, stellar });
    } catch (e) {
      // Endpoints that do not fit the experiment are a usage error, like a bad file.
      if (stellar && endpoints) {
        log((e as Error).message);
        return 2;
      }
      throw e;
    }

    raiseClientPriority(nice, log);
    const interrupt = onInterrupt(log);
    try {
      const stellarOut = stellar ? { root: stellarRunRoot(outDir), subs: stellar.subs } : undefined;
      const res = await runExperiment(exp, { outDir, provider, only, signal: interrupt.signal, progress: process.stderr.isTTY, plots: !v['no-plots'], log, title: `hivelab bench ${name}`, stellar: stellarOut });
      if (stellarOut) log(`STeLLAR result files: ${stellarOut.root}`);
      if (v.json) process.stdout.write(JSON.stringify(jsonSummary(res.subs)) + '\n');
      if (res.reportFile) log(`report: ${res.reportFile}`);
      if (res.interrupted) return 130;
      if (res.lagViolations.length) {
        log(`ERROR ${collapseLagViolations(res.lagViolations)}`);
        return 3;
      }
      return 0;
    } finally {
      interrupt.dispose();
    }
  },
};

export default command;
