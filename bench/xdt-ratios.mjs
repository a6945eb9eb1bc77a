#!/usr/bin/env node
// XDT acceptance figures (issue 6): 1-1 transfers at 1, 10 and 100 MB for http2-raw, xdt, storage
// and redis, interleaved in one run, then the ratios the issue asks for (XDT vs http2-raw at 100 MB,
// XDT speed-up over storage at >= 1 MB). Through the platform (real producer and consumer functions;
// a platform of its own, one worker, started here), or with --standalone sidecar to sidecar across two
// worker processes (also xdt-saf). Needs a build: `npx tsc -p tsconfig.json`.
// Usage: node bench/xdt-ratios.mjs [iterations=10] [--standalone]
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runStandaloneBench } from '../dist/benchkit/xdt/standalone.js';
import { runPlatformPatterns } from '../dist/benchkit/xdt/platform-patterns.js';
import { startPlatform } from '../dist/platform.js';

const standalone = process.argv.includes('--standalone');
const iterations = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 10);
const MB = 1024 * 1024;
const sizes = [MB, 10 * MB, 100 * MB];
const log = (l) => console.error(l);
let rows;
if (standalone) {
  rows = await runStandaloneBench({ patterns: ['1-1'], sizes, degrees: [1], transports: ['http2-raw', 'xdt', 'xdt-saf', 'storage', 'redis'], iterations, log });
} else {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'xdt-ratios-'));
  const p = await startPlatform({ stateDir: dir, port: 0, quiet: true });
  try {
    const client = { url: p.url, tokens: p.tokens, stateDir: dir };
    rows = await runPlatformPatterns({
      client, patterns: ['1-1'], sizes, degrees: [1], transports: ['http2-raw', 'xdt', 'storage', 'redis'],
      iterations, warmup: 1, maxTotalBytes: Infinity, inlineLimitBytes: 6 * MB, log,
    });
  } finally {
    await p.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}
const at = (t, s) => rows.find((r) => r.transport === t && r.sizeBytes === s);
const out = { mode: standalone ? 'standalone' : 'platform', iterations, rows, ratios: {} };
for (const s of sizes) {
  const x = at('xdt', s);
  out.ratios[`${s / MB}MB`] = {
    xdtOverHttp2Raw: +(x.effectiveMBps / at('http2-raw', s).effectiveMBps).toFixed(3),
    xdtSpeedupOverStorage: +(at('storage', s).latencyMs.median / x.latencyMs.median).toFixed(2),
    xdtSpeedupOverRedis: +(at('redis', s).latencyMs.median / x.latencyMs.median).toFixed(2),
  };
}
console.log(JSON.stringify(out, null, 2));
