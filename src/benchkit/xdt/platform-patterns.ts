/**
 * xdt-bench through the platform: the transfer patterns of thesis §6.5 (1-1, scatter, gather,
 * broadcast) between real producer and consumer functions (workloads/patterns/) deployed on a
 * running platform, per size, degree and transport. The functions measure the latency themselves
 * (producer starts its transfer → last consumer holds the object); http2-raw, a bare node:http2 stream
 * between two processes, is measured in the same run as the ceiling.
 */
import { join } from 'node:path';
import { call, type PlatformClient } from '../../gateway/client.js';
import { percentile } from '../statistics.js';
import { WORKLOADS_DIR } from './workloads.js';
import { startRawStreamSource, type RawStreamSource } from './http2-raw.js';
import type { BenchRow, Pattern } from './standalone.js';

export const PATTERN_FUNCTIONS = ['consumer', 'gatherer', 'producer'];

export interface PlatformPatternsOptions {
  client: PlatformClient;
  patterns: Pattern[];
  sizes: number[];
  degrees: number[];
  transports: string[];
  iterations: number;
  warmup: number;
  /** combinations moving more than this many bytes in one iteration are skipped (instance memory, run time) */
  maxTotalBytes: number;
  inlineLimitBytes: number;
  log?: (line: string) => void;
}

async function deployPatternFunctions(client: PlatformClient): Promise<void> {
  for (const f of PATTERN_FUNCTIONS) {
    const res = await call(client, 'POST', '/v1/functions', { body: JSON.stringify({ path: join(WORKLOADS_DIR, 'patterns', f) }) });
    if (res.status >= 300) throw new Error(`deploying xb-${f} failed: HTTP ${res.status} ${res.body.toString('utf8').slice(0, 300)}`);
  }
}

async function runPattern(client: PlatformClient, pattern: Pattern, sizeBytes: number, degree: number, transfer: string): Promise<number> {
  const res = await call(client, 'POST', '/invoke/xb-producer', { role: 'invoke', body: JSON.stringify({ pattern, sizeBytes, degree, transfer }) });
  const text = res.body.toString('utf8');
  if (res.status !== 200) throw new Error(`${pattern} ${sizeBytes} B x${degree} over ${transfer}: HTTP ${res.status} ${text.slice(0, 400)}`);
  const r = JSON.parse(text) as { latencyMs: number; bytes: number };
  if (r.bytes !== sizeBytes * degree) throw new Error(`${pattern} over ${transfer} delivered ${r.bytes} B, expected ${sizeBytes * degree}`);
  return r.latencyMs;
}

function row(pattern: Pattern, sizeBytes: number, degree: number, transport: string, lat: number[]): BenchRow {
  const s = [...lat].sort((a, b) => a - b);
  const median = percentile(s, 50);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return {
    pattern,
    sizeBytes,
    degree,
    transport,
    latencyMs: { median: r2(median), p99: r2(percentile(s, 99)) },
    effectiveMBps: r2((sizeBytes * degree) / 1e6 / (median / 1000)),
  };
}

export async function runPlatformPatterns(opts: PlatformPatternsOptions): Promise<BenchRow[]> {
  const log = opts.log ?? (() => {});
  await deployPatternFunctions(opts.client);
  const rows: BenchRow[] = [];
  let raw: RawStreamSource | undefined;
  try {
    if (opts.transports.includes('http2-raw')) raw = await startRawStreamSource();
    for (const size of opts.sizes) {
      for (const pattern of opts.patterns) {
        for (const degree of pattern === '1-1' ? [1] : opts.degrees) {
          if (size * degree > opts.maxTotalBytes) {
            log(`skip ${pattern} ${size} B x${degree}: more than --max-total (${opts.maxTotalBytes} B) per iteration`);
            continue;
          }
          const transports = opts.transports.filter((t) => {
            if (t === 'http2-raw') return pattern === '1-1';
            // put with inline seals the object into the reference (base64 inside a sealed, base64 token:
            // ~16/9 of the object) which travels in an event; gather's consumer gets all `degree` of them
            const limit = pattern === '1-1' || pattern === 'scatter' ? opts.inlineLimitBytes : (opts.inlineLimitBytes * 9) / 16 - 4096;
            if (t === 'inline' && (pattern === 'gather' ? size * degree : size) > limit) {
              log(`skip inline ${pattern} ${size} B: over the inline limit`);
              return false;
            }
            return true;
          });
          const lat = new Map<string, number[]>(transports.map((t) => [t, []]));
          const once = async (t: string): Promise<number> => {
            if (t !== 'http2-raw') return runPattern(opts.client, pattern, size, degree, t);
            const t0 = performance.now();
            const n = await raw!.pull(size);
            if (n !== size) throw new Error(`raw stream gave ${n} B`);
            return performance.now() - t0;
          };
          // warm-up brings up the instances a degree needs; while the autoscaler catches up with a new
          // fan-out, the activator may refuse (503), so a warm-up iteration is retried a few times
          const broken = new Set<string>();
          for (let i = 0; i < opts.warmup; i++) {
            for (const t of transports) {
              for (let attempt = 1; !broken.has(t); attempt++) {
                try {
                  await once(t);
                  break;
                } catch (err) {
                  const why = (err as Error).message.slice(0, 300);
                  if (attempt >= 4) {
                    broken.add(t);
                    log(`FAILED warm-up of ${pattern} ${size} B x${degree} over ${t}, not measured: ${why}`);
                  } else {
                    log(`warm-up of ${pattern} ${size} B x${degree} over ${t} failed (${why.slice(0, 160)}); retrying`);
                    await new Promise((r) => setTimeout(r, 1000 * attempt));
                  }
                }
              }
            }
          }
          for (const t of broken) transports.splice(transports.indexOf(t), 1);
          // transports interleaved per iteration, so drifting load from other processes hits all alike;
          // a failed iteration is reported and left out, never silently averaged in
          const failures = new Map<string, number>();
          for (let i = 0; i < opts.iterations; i++) {
            for (const t of transports) {
              try {
                lat.get(t)!.push(await once(t));
              } catch (err) {
                failures.set(t, (failures.get(t) ?? 0) + 1);
                log(`FAILED ${pattern} ${size} B x${degree} over ${t}: ${(err as Error).message.slice(0, 300)}`);
              }
            }
          }
          for (const t of transports) {
            if (lat.get(t)!.length === 0) continue;
            if (failures.get(t)) log(`${pattern} ${size} B x${degree} over ${t}: ${failures.get(t)} of ${opts.iterations} iterations failed`);
            const r = row(pattern, size, degree, t, lat.get(t)!);
            rows.push(r);
            log(`${pattern.padEnd(9)} ${String(size).padStart(10)} B  x${String(degree).padEnd(3)} ${t.padEnd(9)} median ${r.latencyMs.median} ms  p99 ${r.latencyMs.p99} ms  ${r.effectiveMBps} MB/s`);
          }
        }
      }
    }
  } finally {
    await raw?.close();
  }
  return rows;
}
