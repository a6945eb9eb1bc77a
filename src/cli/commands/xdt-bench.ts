import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.js';
import { PATTERNS, runStandaloneBench, type Pattern } from '../../xdt/bench/standalone.js';

const usage = `
usage: hivelab xdt-bench [--patterns 1-1,scatter,gather,broadcast] [--sizes 10KB,1MB,10MB,100MB]
                         [--degrees 1,4,16,32] [--transports inline,storage,redis,xdt,http2-raw]
                         [--iterations 10] [--warmup 1] [--pool-buffers 512] [--buffer-bytes 1MB]
                         [--stream-window 8]
                         [--out DIR] [--json] [--standalone]

Measures data passing between a producer and consumers per transfer pattern, object size, degree
(fan-out/fan-in) and transport. The http2-raw row is a bare node:http2 stream between two processes
on loopback, measured in the same run: the ceiling XDT is judged against.

Stand-alone mode (the only one so far): two worker processes with their own transfer services and
sidecars; this process plays the producer and consumer functions through the SDK and a minimal
gateway. Transports: inline, storage (embedded s3rver), redis (embedded redis-server), xdt
(cut-through), xdt-saf (store-and-forward), http2-raw.

--json prints rows {pattern, sizeBytes, degree, transport, latencyMs:{median,p99}, effectiveMBps};
--out DIR writes them to DIR/xdt-bench.json.
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

const TRANSPORTS = ['inline', 'storage', 'redis', 'xdt', 'xdt-saf', 'http2-raw'];

const command: Command = {
  summary: 'benchmark data transfers between functions (XDT vs storage, redis, inline, http2-raw)',
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        patterns: { type: 'string', default: '1-1,scatter,gather,broadcast' },
        sizes: { type: 'string', default: '10KB,1MB,10MB,100MB' },
        degrees: { type: 'string', default: '1,4,16,32' },
        transports: { type: 'string', default: 'inline,storage,redis,xdt,http2-raw' },
        iterations: { type: 'string', default: '10' },
        warmup: { type: 'string', default: '1' },
        'pool-buffers': { type: 'string', default: '512' },
        'buffer-bytes': { type: 'string', default: '1MB' },
        'stream-window': { type: 'string', default: '8' },
        out: { type: 'string' },
        json: { type: 'boolean', default: false },
        standalone: { type: 'boolean', default: true },
        workload: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      console.log(usage.trim());
      return 0;
    }
    if (values.workload) throw new UsageError('--workload is not available yet in stand-alone mode');
    const patterns = list(values.patterns!);
    for (const p of patterns) if (!(PATTERNS as readonly string[]).includes(p)) throw new UsageError(`unknown pattern "${p}" (${PATTERNS.join(', ')})`);
    const transports = list(values.transports!);
    for (const t of transports) if (!TRANSPORTS.includes(t)) throw new UsageError(`unknown transport "${t}" (${TRANSPORTS.join(', ')})`);
    const rows = await runStandaloneBench({
      patterns: patterns as Pattern[],
      sizes: list(values.sizes!).map(parseSize),
      degrees: list(values.degrees!).map((d) => positiveInt(d, '--degrees')),
      transports,
      iterations: positiveInt(values.iterations!, '--iterations'),
      warmup: Number(values.warmup),
      streamWindow: positiveInt(values['stream-window']!, '--stream-window'),
      pool: { buffers: positiveInt(values['pool-buffers']!, '--pool-buffers'), bufferBytes: parseSize(values['buffer-bytes']!) },
      log: values.json ? (l) => console.error(l) : (l) => console.log(l),
    });
    if (values.out) {
      await fs.mkdir(values.out, { recursive: true });
      await fs.writeFile(path.join(values.out, 'xdt-bench.json'), JSON.stringify(rows, null, 2) + '\n');
    }
    if (values.json) console.log(JSON.stringify(rows, null, 2));
    return 0;
  },
};

export default command;
