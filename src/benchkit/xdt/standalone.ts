/**
 * xdt-bench, stand-alone mode: the transfer patterns of thesis §6.5 (1-1, scatter, gather,
 * broadcast) measured sidecar to sidecar, without the platform. Two worker processes (producer side,
 * consumer side), each with its own TransferServices and sidecars; this process plays the functions
 * (SDK calls over the sidecars' Unix sockets) and a minimal gateway whose "consumer" resolves the
 * reference through its own sidecar exactly as the runtime shim does. The http2-raw ceiling is a bare
 * node:http2 stream between a worker process and this one, measured in the same run.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { startServices, type Services } from '../../services/index.js';
import { sdkFor, resolveEventRefs, decodeObject, type HivelabSdk } from '../../runtime/node/sdk.js';
import { XDT_HTTP2_OPTIONS, widenSessionWindow } from '../../xdt/http2-settings.js';
import { percentile } from '../../core/percentile.js';

export const PATTERNS = ['1-1', 'scatter', 'gather', 'broadcast'] as const;
export type Pattern = (typeof PATTERNS)[number];

export interface BenchRow {
  pattern: Pattern;
  sizeBytes: number;
  degree: number;
  transport: string;
  latencyMs: { median: number; p99: number };
  /** bytes delivered to consumers per second, in MB/s (10^6 B) */
  effectiveMBps: number;
}

export interface StandaloneBenchOptions {
  patterns: Pattern[];
  sizes: number[];
  degrees: number[];
  /** inline | storage | redis | xdt | xdt-saf | http2-raw */
  transports: string[];
  iterations: number;
  warmup?: number;
  pool?: { buffers: number; bufferBytes: number };
  /** pool buffers one cut-through transfer may hold */
  streamWindow?: number;
  log?: (line: string) => void;
}

const INLINE_LIMIT = 6 * 1024 * 1024;
const TOKEN = randomBytes(12).toString('hex');

class WorkerProc {
  private seq = 0;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  constructor(readonly child: ChildProcess) {
    child.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: string }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.ok) p?.resolve(m.result);
      else p?.reject(new Error(m.error));
    });
    child.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`bench worker exited (${code})`));
      this.pending.clear();
    });
  }
  call<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, cmd, ...args });
    });
  }
}

function spawnWorker(): WorkerProc {
  const entry = fileURLToPath(new URL('./worker-process.js', import.meta.url));
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return new WorkerProc(fork(entry, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
}

/** The ceiling: one bare HTTP/2 stream of `size` bytes from a worker process to this one. */
function rawPull(session: http2.ClientHttp2Session, size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ':path': `/raw?size=${size}` });
    let n = 0;
    s.on('data', (c: Buffer) => (n += c.length));
    s.on('end', () => resolve(n));
    s.on('error', reject);
  });
}

export async function runStandaloneBench(opts: StandaloneBenchOptions): Promise<BenchRow[]> {
  const log = opts.log ?? (() => {});
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hivelab-xdt-bench-'));
  const maxDegree = Math.max(1, ...opts.degrees);
  let services: Services | undefined;
  const workers: WorkerProc[] = [];
  const consumers = new Map<string, string>();
  const gateway = http.createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const fn = decodeURIComponent((req.url ?? '').replace(/^\/invoke\//, ''));
      const sock = consumers.get(fn);
      try {
        if (req.headers.authorization !== `Bearer ${TOKEN}` || !sock) throw new Error(`bad invoke of ${fn}`);
        const event = await resolveEventRefs(decodeObject(Buffer.concat(chunks), req.headers['content-type']), { invocationId: 'bench', functionName: fn, sidecar: sock });
        const body = JSON.stringify({ n: Buffer.isBuffer(event) ? event.length : -1 });
        res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      } catch (err) {
        res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { type: 'BenchConsumer', message: (err as Error).message } }));
      }
    })();
  });
  const rows: BenchRow[] = [];
  let rawSession: http2.ClientHttp2Session | undefined;
  try {
    if (opts.transports.some((t) => t === 'storage' || t === 'redis')) {
      log('starting s3rver and redis-server');
      services = await startServices({ stateDir: dir });
    }
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', () => r()));
    const gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
    const sealKey = randomBytes(32).toString('base64');
    const pool = opts.pool ?? { buffers: 512, bufferBytes: 1024 * 1024 };
    for (let i = 0; i < 2; i++) {
      const w = spawnWorker();
      workers.push(w);
      await w.call('start', {
        stateDir: dir,
        runDir: dir,
        sealKey,
        gatewayUrl,
        invokeToken: TOKEN,
        pool,
        streamWindow: opts.streamWindow,
        s3: services?.s3.config,
        redis: services ? { host: services.redis.host, port: services.redis.port, password: services.redis.password } : undefined,
      });
    }
    const [wp, wc] = workers as [WorkerProc, WorkerProc];
    const producers: HivelabSdk[] = [];
    const consumerSdks: HivelabSdk[] = [];
    for (let i = 0; i < maxDegree; i++) {
      const p = await wp.call<{ socketPath: string }>('sidecar', { instanceId: `producer${i}`, functionName: 'producer' });
      producers.push(sdkFor({ invocationId: `bench-p${i}`, functionName: 'producer', sidecar: p.socketPath }));
      const c = await wc.call<{ socketPath: string }>('sidecar', { instanceId: `consumer${i}`, functionName: `consumer${i}` });
      consumers.set(`consumer${i}`, c.socketPath);
      consumerSdks.push(sdkFor({ invocationId: `bench-c${i}`, functionName: `consumer${i}`, sidecar: c.socketPath }));
    }
    if (opts.transports.includes('http2-raw')) {
      const { address } = await wp.call<{ address: string }>('raw-server');
      rawSession = http2.connect(`http://${address}`, XDT_HTTP2_OPTIONS);
      rawSession.on('connect', () => widenSessionWindow(rawSession!));
      rawSession.on('error', () => {});
    }

    const expectN = (r: unknown, size: number) => {
      if ((r as { n?: number }).n !== size) throw new Error(`consumer saw ${(r as { n?: number }).n} B, expected ${size}`);
    };
    const check = (b: unknown, size: number) => {
      if (!Buffer.isBuffer(b) || b.length !== size) throw new Error(`got ${Buffer.isBuffer(b) ? b.length : typeof b} instead of ${size} B`);
    };

    for (const size of opts.sizes) {
      const obj = Buffer.alloc(size, 0x5a);
      for (const transport of opts.transports) {
        if (transport === 'inline' && size > INLINE_LIMIT) {
          log(`skip inline ${size} B: over the ${INLINE_LIMIT} B inline limit`);
          continue;
        }
        for (const pattern of opts.patterns) {
          const degrees = pattern === '1-1' ? [1] : opts.degrees;
          if (transport === 'http2-raw' && pattern !== '1-1') continue;
          for (const degree of degrees) {
            const once = async (): Promise<void> => {
              if (transport === 'http2-raw') {
                const n = await rawPull(rawSession!, size);
                if (n !== size) throw new Error(`raw stream gave ${n} B`);
                return;
              }
              switch (pattern) {
                case '1-1':
                  expectN(await producers[0]!.invoke('consumer0', obj, { transfer: transport }), size);
                  return;
                case 'scatter':
                  await Promise.all(
                    Array.from({ length: degree }, async (_, i) => expectN(await producers[0]!.invoke(`consumer${i}`, obj, { transfer: transport }), size)),
                  );
                  return;
                case 'gather':
                  await Promise.all(
                    Array.from({ length: degree }, async (_, i) => {
                      const ref = await producers[i]!.put(obj, { transfer: transport, retrievals: 1 });
                      check(await consumerSdks[0]!.get(ref), size);
                    }),
                  );
                  return;
                case 'broadcast': {
                  const ref = await producers[0]!.put(obj, { transfer: transport, retrievals: degree });
                  await Promise.all(Array.from({ length: degree }, async (_, i) => check(await consumerSdks[i]!.get(ref), size)));
                  return;
                }
              }
            };
            const warmup = opts.warmup ?? 1;
            for (let i = 0; i < warmup; i++) await once();
            const lat: number[] = [];
            for (let i = 0; i < opts.iterations; i++) {
              const t0 = performance.now();
              await once();
              lat.push(performance.now() - t0);
            }
            lat.sort((a, b) => a - b);
            const median = percentile(lat, 50);
            const row: BenchRow = {
              pattern,
              sizeBytes: size,
              degree,
              transport,
              latencyMs: { median: round(median), p99: round(percentile(lat, 99)) },
              effectiveMBps: round((size * degree) / 1e6 / (median / 1000)),
            };
            rows.push(row);
            log(`${pattern.padEnd(9)} ${String(size).padStart(10)} B  x${String(degree).padEnd(3)} ${transport.padEnd(9)} median ${row.latencyMs.median} ms  p99 ${row.latencyMs.p99} ms  ${row.effectiveMBps} MB/s`);
          }
        }
      }
    }
  } finally {
    rawSession?.destroy();
    for (const w of workers) await w.call('stop').catch(() => w.child.kill('SIGKILL'));
    await new Promise<void>((r) => gateway.close(() => r()));
    await services?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
  return rows;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
