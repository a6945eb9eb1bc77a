#!/usr/bin/env node
// XDT acceptance figures (issue 6): 1-1 transfers at 1, 10 and 100 MB for http2-raw, xdt, xdt-saf,
// storage and redis, in one run, then the ratios the issue asks for (XDT vs http2-raw at 100 MB,
// XDT speed-up over storage at ≥ 1 MB). Stand-alone mode (sidecar to sidecar, two worker processes).
// Needs a build: `npx tsc -p tsconfig.json`. Usage: node bench/xdt-ratios.mjs [iterations]
import { runStandaloneBench } from '../dist/xdt/bench/standalone.js';

const iterations = Number(process.argv[2] ?? 10);
const MB = 1024 * 1024;
const rows = await runStandaloneBench({
  patterns: ['1-1'],
  sizes: [MB, 10 * MB, 100 * MB],
  degrees: [1],
  transports: ['http2-raw', 'xdt', 'xdt-saf', 'storage', 'redis'],
  iterations,
  log: (l) => console.error(l),
});
const at = (t, s) => rows.find((r) => r.transport === t && r.sizeBytes === s);
const out = { rows, ratios: {} };
for (const s of [MB, 10 * MB, 100 * MB]) {
  const x = at('xdt', s);
  out.ratios[`${s / MB}MB`] = {
    xdtOverHttp2Raw: +(x.effectiveMBps / at('http2-raw', s).effectiveMBps).toFixed(3),
    xdtSpeedupOverStorage: +(at('storage', s).latencyMs.median / x.latencyMs.median).toFixed(2),
    xdtSpeedupOverRedis: +(at('redis', s).latencyMs.median / x.latencyMs.median).toFixed(2),
  };
}
console.log(JSON.stringify(out, null, 2));
