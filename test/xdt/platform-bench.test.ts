/**
 * xdt-bench through a real platform, at toy scale: every pattern × transport yields a row (the
 * producer/consumer functions check sizes and bytes, so a row means the data really crossed), the
 * http2-raw ceiling is measured in the same run, oversized inline combinations are skipped rather
 * than failed, and the plots land in --out as SVG and PNG.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestPlatform, removeState, type TestPlatform } from '../platform/harness.js';
import { runPlatformPatterns } from '../../src/benchkit/xdt/platform-patterns.js';
import { writeTransferPlots } from '../../src/benchkit/xdt/plots.js';
import type { PlatformClient } from '../../src/gateway/client.js';

let t: TestPlatform;
let client: PlatformClient;
let out: string;

beforeAll(async () => {
  t = await startTestPlatform();
  client = { url: t.platform.url, tokens: t.platform.tokens, stateDir: t.stateDir };
  out = await mkdtemp(join(tmpdir(), 'xdt-bench-out-'));
}, 120_000);
afterAll(async () => {
  await t?.stop();
  if (t) await removeState(t.stateDir);
  if (out) await rm(out, { recursive: true, force: true });
}, 120_000);

it('measures every pattern and transport through deployed functions, with the http2-raw ceiling', async () => {
  const skipped: string[] = [];
  const rows = await runPlatformPatterns({
    client,
    patterns: ['1-1', 'scatter', 'gather', 'broadcast'],
    sizes: [10 * 1024, 7 * 1024 * 1024],
    degrees: [2],
    transports: ['inline', 'storage', 'redis', 'xdt', 'http2-raw'],
    iterations: 2,
    warmup: 1,
    maxTotalBytes: 64 * 1024 * 1024,
    inlineLimitBytes: 6 * 1024 * 1024,
    log: (l) => l.startsWith('skip') && skipped.push(l),
  });
  const key = (r: { pattern: string; sizeBytes: number; transport: string }) => `${r.pattern}/${r.sizeBytes}/${r.transport}`;
  const have = new Set(rows.map(key));
  for (const pattern of ['1-1', 'scatter', 'gather', 'broadcast']) {
    for (const transport of ['storage', 'redis', 'xdt']) {
      for (const size of [10 * 1024, 7 * 1024 * 1024]) expect(have.has(key({ pattern, sizeBytes: size, transport }))).toBe(true);
    }
    expect(have.has(key({ pattern, sizeBytes: 10 * 1024, transport: 'inline' }))).toBe(true);
    // 7 MB is over the 6 MB inline limit: skipped, not failed
    expect(have.has(key({ pattern, sizeBytes: 7 * 1024 * 1024, transport: 'inline' }))).toBe(false);
  }
  expect(skipped.filter((s) => s.includes('inline'))).toHaveLength(4);
  // the ceiling is a 1-1 measurement only
  expect(rows.filter((r) => r.transport === 'http2-raw').map((r) => r.pattern)).toEqual(['1-1', '1-1']);
  for (const r of rows) {
    expect(r.latencyMs.median).toBeGreaterThan(0);
    expect(r.latencyMs.p99).toBeGreaterThanOrEqual(r.latencyMs.median);
    // The row's median is rounded to 0.01 ms and the bandwidth (computed before that) to 0.01 MB/s:
    // the bandwidth must lie between what the median's rounding interval gives.
    const mbpsAt = (ms: number) => (r.sizeBytes * r.degree) / 1e6 / (ms / 1000);
    expect(r.effectiveMBps).toBeGreaterThanOrEqual(mbpsAt(r.latencyMs.median + 0.005) - 0.005);
    expect(r.effectiveMBps).toBeLessThanOrEqual(mbpsAt(Math.max(r.latencyMs.median - 0.005, 0.001)) + 0.005);
    expect(r.degree).toBe(r.pattern === '1-1' ? 1 : 2);
  }
  const plots = await writeTransferPlots(out, rows);
  expect(plots).toContain('1-1-latency');
  for (const p of plots) for (const ext of ['svg', 'png']) expect(existsSync(join(out, `${p}.${ext}`))).toBe(true);
}, 600_000);
