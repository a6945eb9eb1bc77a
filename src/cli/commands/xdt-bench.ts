import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { UsageError, type Command } from '../command.js';
import { connect, type PlatformClient } from '../../gateway/client.js';
import { DEFAULTS } from '../../config/defaults.js';
import { startPlatform } from '../../platform.js';
import { PATTERNS, runStandaloneBench, type BenchRow, type Pattern } from '../../benchkit/xdt/standalone.js';
import { runPlatformPatterns } from '../../benchkit/xdt/platform-patterns.js';
import { benchWorkload, workloadNames } from '../../benchkit/xdt/workloads.js';
import { writeTransferPlots } from '../../benchkit/xdt/plots.js';

const usage = `
usage: hivelab xdt-bench [--patterns 1-1,scatter,gather,broadcast] [--sizes 10KB,1MB,10MB,100MB]
                         [--degrees 1,4,16,32] [--transports inline,storage,redis,xdt,http2-raw]
                         [--iterations 10] [--warmup 1] [--max-total 320MB]
                         [--out DIR] [--json] [--state DIR]
       hivelab xdt-bench --workload mapreduce|ensemble|video [--transports storage,redis,xdt]
                         [--iterations 5] [--warmup 1] [--out DIR] [--json] [--state DIR]
       hivelab xdt-bench --standalone [pattern options] [--pool-buffers 512] [--buffer-bytes 1MB] [--stream-window 8]

Measures data passing between functions per transfer pattern, object size, degree (fan-out/fan-in)
and transport, with real producer and consumer functions (workloads/patterns/) deployed on the
platform; or runs a real workload (workloads/<name>/: MapReduce, stacking-ensemble training, video
analytics) and reports its end-to-end time and the time its critical path spends in transfers.

Platform: the one running with --state (default ./.hivelab) when it answers; otherwise the bench
starts its own (startPlatform in a temporary state folder: s3rver, redis, one worker) and stops it
at the end. The functions are deployed (a redeploy of an unchanged folder changes nothing).

http2-raw (patterns, 1-1 only) is a bare node:http2 stream between two processes on loopback,
measured in the same run: the ceiling XDT is judged against. Combinations moving more than
--max-total bytes per iteration (size × degree) are skipped: consumers' memory and run time.
Transports of a run are interleaved per iteration, so load from other processes hits all alike.

--json prints rows {pattern, sizeBytes, degree, transport, latencyMs:{median,p99}, effectiveMBps}
(workloads: {workload, transport, e2eMs, transferMs, transferFraction, speedupVsStorage});
--out DIR writes them to DIR/xdt-bench.json (DIR/workload-<name>.json) and, for patterns, the plots
<pattern>-latency and <pattern>-bandwidth as SVG and PNG.

--standalone: the stand-alone mode, without the platform: two worker processes with their own
transfer services and sidecars, this process plays the functions through the SDK (also xdt-saf).
`;

export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|KIB|MB|MIB|GB|GIB)?$/i.exec(s.trim());
  if (!m) throw new UsageError(`bad size "${s}" (e.g. 10KB, 1MB, 100MB)`);
  const unit = (m[2] ?? 'B').toUpperCase();
  const mult = unit === 'B' ? 1 : unit.startsWith('K') ? 1024 : unit.startsWith('M') ? 1024 ** 2 : 1024 ** 3;
  return Math.round(Number(m[1]) * mult);
}

function list(s: string): string[] {
  return s.split(',').map((x) => x.trim()).filter(Boolean);
}

function positiveInt(s: string, what: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what} must be a positive integer, got "${s}"`);
  return n;
}

function nonNegativeInt(s: string, what: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${what} must be a non-negative integer, got "${s}"`);
  return n;
}

const TRANSPORTS = ['inline', 'storage', 'redis', 'xdt', 'xdt-saf', 'http2-raw'];

/** The running platform of `stateDir` if it answers, else a platform of our own for the duration of `fn`. */
async function withPlatform<T>(stateDir: string | undefined, log: (l: string) => void, fn: (c: PlatformClient) => Promise<T>): Promise<T> {
  try {
    const c = await connect(stateDir);
    const res = await request(`${c.url}/v1/health`, { method: 'GET' });
    await res.body.dump();
    if (res.statusCode === 200) {
      log(`using the platform at ${c.url} (state ${c.stateDir})`);
      return await fn(c);
    }
  } catch {
    // nothing running there: start our own
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hivelab-xdt-bench-'));
  log(`no platform running; starting one in ${dir}`);
  const p = await startPlatform({ stateDir: dir, port: 0, quiet: true });
  try {
    return await fn({ url: p.url, tokens: p.tokens, stateDir: dir });
  } finally {
    await p.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const command: Command = {
  summary: 'benchmark data transfers between functions (XDT vs storage, redis, inline, http2-raw) and the XDT workloads',
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        patterns: { type: 'string', default: '1-1,scatter,gather,broadcast' },
        sizes: { type: 'string', default: '10KB,1MB,10MB,100MB' },
        degrees: { type: 'string', default: '1,4,16,32' },
        transports: { type: 'string' },
        iterations: { type: 'string' },
        warmup: { type: 'string', default: '1' },
        'max-total': { type: 'string', default: '320MB' },
        'pool-buffers': { type: 'string', default: '512' },
        'buffer-bytes': { type: 'string', default: '1MB' },
        'stream-window': { type: 'string', default: '8' },
        out: { type: 'string' },
        json: { type: 'boolean', default: false },
        standalone: { type: 'boolean', default: false },
        workload: { type: 'string' },
        state: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      console.log(usage.trim());
      return 0;
    }
    const log = values.json ? (l: string) => console.error(l) : (l: string) => console.log(l);
    const warmup = nonNegativeInt(values.warmup!, '--warmup');
    const transports = list(values.transports ?? (values.workload ? 'storage,redis,xdt' : 'inline,storage,redis,xdt,http2-raw'));
    for (const t of transports) if (!TRANSPORTS.includes(t)) throw new UsageError(`unknown transport "${t}" (${TRANSPORTS.join(', ')})`);

    if (values.workload) {
      if (values.standalone) throw new UsageError('--workload runs on the platform, not --standalone');
      if (!workloadNames().includes(values.workload)) throw new UsageError(`unknown workload "${values.workload}" (${workloadNames().join(', ')})`);
      if (transports.includes('http2-raw')) throw new UsageError('http2-raw is a pattern ceiling, not a workload transport');
      const rows = await withPlatform(values.state, log, (client) =>
        benchWorkload({ client, workload: values.workload!, transports, iterations: positiveInt(values.iterations ?? '5', '--iterations'), warmup, log }),
      );
      for (const r of rows) {
        const speed = r.speedupVsStorage === undefined ? '' : `  ${r.speedupVsStorage.toFixed(2)}x vs storage`;
        log(`${r.workload} ${r.transport.padEnd(8)} e2e median ${r.e2eMs.median.toFixed(0)} ms (p99 ${r.e2eMs.p99.toFixed(0)})  transfers ${r.transferMs.median.toFixed(0)} ms (${(100 * r.transferFraction).toFixed(0)} %)${speed}`);
      }
      if (values.out) {
        await fs.mkdir(values.out, { recursive: true });
        await fs.writeFile(path.join(values.out, `workload-${values.workload}.json`), JSON.stringify(rows, null, 2) + '\n');
      }
      if (values.json) console.log(JSON.stringify(rows, null, 2));
      return 0;
    }

    const patterns = list(values.patterns!);
    for (const p of patterns) if (!(PATTERNS as readonly string[]).includes(p)) throw new UsageError(`unknown pattern "${p}" (${PATTERNS.join(', ')})`);
    const common = {
      patterns: patterns as Pattern[],
      sizes: list(values.sizes!).map(parseSize),
      degrees: list(values.degrees!).map((d) => positiveInt(d, '--degrees')),
      transports,
      iterations: positiveInt(values.iterations ?? '10', '--iterations'),
      warmup,
      log,
    };
    let rows: BenchRow[];
    if (values.standalone) {
      rows = await runStandaloneBench({
        ...common,
        streamWindow: positiveInt(values['stream-window']!, '--stream-window'),
        pool: { buffers: positiveInt(values['pool-buffers']!, '--pool-buffers'), bufferBytes: parseSize(values['buffer-bytes']!) },
      });
    } else {
      if (transports.includes('xdt-saf')) throw new UsageError('xdt-saf is only in --standalone mode (the SDK transports are inline, storage, redis, xdt)');
      rows = await withPlatform(values.state, log, (client) =>
        runPlatformPatterns({ ...common, client, maxTotalBytes: parseSize(values['max-total']!), inlineLimitBytes: DEFAULTS.inlineLimitBytes }),
      );
    }
    if (values.out) {
      await fs.mkdir(values.out, { recursive: true });
      await fs.writeFile(path.join(values.out, 'xdt-bench.json'), JSON.stringify(rows, null, 2) + '\n');
      const plots = await writeTransferPlots(values.out, rows);
      log(`wrote ${path.join(values.out, 'xdt-bench.json')} and ${plots.length} plots (SVG + PNG)`);
    }
    if (values.json) console.log(JSON.stringify(rows, null, 2));
    return 0;
  },
};

export default command;
