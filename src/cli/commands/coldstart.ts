import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { UsageError, parseCommandArgs, type Command } from '../command.js';
import { COLD_START_MODES, type ColdStartMode, type Runtime } from '../../manifest/schema.js';
import { catalogue } from '../../suite/catalogue.js';
import { CACHE_STATES, type CacheState } from '../../benchkit/coldstart/cache.js';
import { runStudy, type StudyFunction } from '../../benchkit/coldstart/study.js';
import { toCsv, toTable } from '../../benchkit/coldstart/report.js';

const usage = `Usage: hivelab coldstart [options]

The cold-start study (thesis figs. 4.2, 5.2-5.4): starts its own platform per mode (temporary state),
forces cold starts of each function and breaks them down (restore, connect, processing, WS fetch and
install), with page counts, working-set read bandwidth and resident memory.

Options:
  --functions <a,b>      suite names or function folders (default: the whole suite)
  --modes <m,..>         boot,snapshot,lazy,reap,criu-lazy (default: all)
  --iterations <n>       cold starts per function x mode x concurrency (default 10)
  --cache <state>        host-cold | runtime-warm | warm (default host-cold)
  --concurrency <n,..>   simultaneous cold starts, e.g. 1,2,4,8,16 (default 1)
  --out <dir>            write coldstart.csv (and coldstart.json) there
  --state <dir>          parent folder for the platforms' states (kept afterwards)
  --json                 print {results:[...], disk:{directReadMBps}} on stdout
  -h, --help             show this help

Needs root (page-cache drops, CRIU). Progress goes to stderr.`;

function resolveFunctions(list: string | undefined): StudyFunction[] {
  // the study invokes over HTTP (POST /invoke/<name>): the suite's gRPC functions are not its
  const all = catalogue();
  const suite = all.filter((f) => !f.grpc);
  if (!list) return suite.map((f) => ({ name: f.name, dir: f.dir, runtime: f.runtime }));
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const known = suite.find((f) => f.name === item);
      if (known) return { name: known.name, dir: known.dir, runtime: known.runtime };
      if (all.some((f) => f.name === item)) throw new UsageError(`"${item}" is a gRPC suite function: the cold-start study invokes functions over HTTP`);
      const dir = resolve(item);
      const manifest = join(dir, 'function.json');
      if (!existsSync(manifest)) throw new UsageError(`"${item}" is neither a suite function nor a function folder`);
      const m = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; runtime: Runtime };
      return { name: m.name ?? basename(dir), dir, runtime: m.runtime };
    });
}

function positiveInts(s: string, what: string): number[] {
  const out = s.split(',').map((x) => Number(x.trim()));
  if (out.some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError(`${what} must be positive integers`);
  return out;
}

const command: Command = {
  summary: 'measure cold starts per mode (boot, snapshot, lazy, reap, criu-lazy)',
  usage,
  async run(argv: string[]): Promise<number> {
    const { values } = parseCommandArgs({
      args: argv,
      options: {
        functions: { type: 'string' },
        modes: { type: 'string' },
        iterations: { type: 'string', default: '10' },
        cache: { type: 'string', default: 'host-cold' },
        concurrency: { type: 'string', default: '1' },
        out: { type: 'string' },
        state: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    const modes = (values.modes ?? COLD_START_MODES.join(',')).split(',').map((m) => m.trim()) as ColdStartMode[];
    for (const m of modes) if (!COLD_START_MODES.includes(m)) throw new UsageError(`unknown mode "${m}" (${COLD_START_MODES.join(', ')})`);
    if (!CACHE_STATES.includes(values.cache as CacheState)) throw new UsageError(`--cache must be one of ${CACHE_STATES.join(', ')}`);
    const [iterations] = positiveInts(values.iterations, '--iterations');
    const report = await runStudy({
      functions: resolveFunctions(values.functions),
      modes,
      iterations: iterations!,
      cache: values.cache as CacheState,
      concurrency: positiveInts(values.concurrency, '--concurrency'),
      stateDir: values.state ? resolve(values.state) : undefined,
      progress: (line) => process.stderr.write(`[coldstart] ${line}\n`),
    });
    process.stderr.write(toTable(report));
    if (report.skippedModes?.length) {
      process.stderr.write(`snapshots unavailable on this machine (${report.snapshots.reason}): ${report.skippedModes.join(', ')} not measured\n`);
    }
    if (values.out) {
      await mkdir(values.out, { recursive: true });
      await writeFile(join(values.out, 'coldstart.csv'), toCsv(report));
      await writeFile(join(values.out, 'coldstart.json'), JSON.stringify(report, null, 2));
    }
    if (values.json) console.log(JSON.stringify(report, null, 2));
    // Nothing measured at all because snapshots cannot work here: a failure, not an empty success.
    return report.results.length === 0 && report.skippedModes?.length ? 1 : 0;
  },
};

export default command;
