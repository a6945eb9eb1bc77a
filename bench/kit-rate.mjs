#!/usr/bin/env node
// The benchmarking kit's maximum open-loop rate on this machine, compared in the same run with
// autocannon's closed-loop throughput against the same trivial server (issue 7, BENCHMARKS.md).
//
//   npx tsc -p tsconfig.json && node bench/kit-rate.mjs [--seconds 3] [--connections 32] [--max-lag-ms 1]
//
// The server runs in a separate process (so it has its own core). The kit is driven at a fixed
// offered rate R (one request every 1/R s, bursts of 1) for a few seconds; a rate is sustained when
//   - the client's send-lag p99 (sent − scheduled) ≤ --max-lag-ms, and
//   - ≥ 95 % of the offered requests completed within the trial (the server kept up, so the rate
//     was not bought with an unbounded backlog).
// R doubles until a trial fails, then a binary search narrows the gap. autocannon then runs with
// the same number of connections for the same time; its throughput is the closed-loop ceiling the
// kit's open-loop maximum is compared against (target ≥ 80 %). All traffic is 127.0.0.1.
import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { runOpenLoop } from '../dist/benchkit/client.js';
import { latencyStatistics } from '../dist/benchkit/statistics.js';

const { values: a } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    'max-lag-ms': { type: 'string', default: '1' },
    'start-rate': { type: 'string', default: '2000' },
    // Raised scheduling priority (negative nice; needs root) for the kit and the server, so other
    // work sharing these 2 cores does not preempt them; 0 leaves the priority alone.
    nice: { type: 'string', default: '-10' },
  },
});
const SECONDS = Number(a.seconds);
const CONNECTIONS = Number(a.connections);
const MAX_LAG = Number(a['max-lag-ms']);

const SERVER = `
const http = require('node:http');
const s = http.createServer((req, res) => { req.resume(); req.on('end', () => res.end('ok')); });
s.keepAliveTimeout = 60000;
s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;

const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
const [portLine] = await once(server.stdout, 'data');
const NICE = Number(a.nice);
if (NICE !== 0) {
  try {
    setPriority(0, NICE);
    setPriority(server.pid, NICE);
    console.log(`  kit and server run at nice ${NICE}`);
  } catch (e) {
    console.log(`  could not set nice ${NICE} (${e.message}); running at normal priority`);
  }
}
const url = `http://127.0.0.1:${String(portLine).trim()}/`;
const cleanup = () => server.kill('SIGTERM');
process.on('exit', cleanup);

const body = Buffer.from('{"serviceTimeMs":0}');

async function kitTrial(rate) {
  const n = Math.round(rate * SECONDS);
  const step = 1000 / rate;
  const reqs = Array.from({ length: n }, (_, i) => ({ id: i, burstId: i, replica: 0, scheduledMs: i * step, url, body }));
  const deadline = new AbortController();
  // Bounded in time: whatever has not completed 2 s after the schedule ends counts as not kept up.
  const timer = setTimeout(() => deadline.abort(), SECONDS * 1000 + 2000);
  const res = await runOpenLoop(reqs, { connections: CONNECTIONS, reuseConnections: true, timeoutMs: 10_000, coldThresholdMs: 1e9, keepBodies: false, signal: deadline.signal });
  clearTimeout(timer);
  const lags = res.records.map((r) => r.sentMs - r.scheduledMs);
  const wire = res.records.map((r) => r.startedMs - r.scheduledMs);
  const ok = res.records.filter((r) => r.status === 200);
  const lagP99 = latencyStatistics(lags).p99;
  const wireP99 = latencyStatistics(wire).p99;
  const completed = ok.length / n;
  const pass = lagP99 <= MAX_LAG && completed >= 0.95;
  const lat = latencyStatistics(ok.map((r) => r.latencyMs));
  console.log(
    `  kit @ ${rate.toFixed(0).padStart(6)} req/s: send-lag p99 ${lagP99.toFixed(3)} ms, on-the-wire lag p99 ${wireP99.toFixed(3)} ms, ` +
      `completed ${(completed * 100).toFixed(1)} %, latency p50 ${lat.p50.toFixed(3)} / p99 ${lat.p99.toFixed(3)} ms → ${pass ? 'sustained' : 'NOT sustained'}`,
  );
  return pass;
}

// Warm the JIT and the connections once; not counted.
await kitTrial(500);

let lo = 0;
let hi = 0;
let rate = Number(a['start-rate']);
while (hi === 0 && rate <= 200_000) {
  if (await kitTrial(rate)) {
    lo = rate;
    rate *= 2;
  } else hi = rate;
}
if (hi === 0) hi = rate;
while (lo > 0 ? hi / lo > 1.1 : hi > 100) {
  const mid = lo > 0 ? Math.round((lo + hi) / 2) : Math.round(hi / 2);
  if (await kitTrial(mid)) lo = mid;
  else hi = mid;
}

console.log(`  autocannon: ${CONNECTIONS} connections, ${SECONDS} s, same server`);
const ac = await autocannon({ url, method: 'POST', body, headers: { 'content-type': 'application/json' }, connections: CONNECTIONS, pipelining: 1, duration: SECONDS });
const acRate = ac.requests.average;
console.log(`  autocannon: ${acRate.toFixed(0)} req/s (latency p50 ${ac.latency.p50} ms, p99 ${ac.latency.p99} ms, errors ${ac.errors}, non-2xx ${ac.non2xx})`);

const ratio = lo / acRate;
console.log('');
console.log(`kit maximum open-loop rate with send-lag p99 ≤ ${MAX_LAG} ms: ${lo.toFixed(0)} req/s`);
console.log(`autocannon throughput (${CONNECTIONS} connections):           ${acRate.toFixed(0)} req/s`);
console.log(`ratio kit / autocannon: ${(ratio * 100).toFixed(1)} % (target ≥ 80 %) → ${ratio >= 0.8 ? 'MET' : 'NOT MET'}`);
console.log(JSON.stringify({ kitMaxRate: lo, autocannonRate: Math.round(acRate), ratio: Number(ratio.toFixed(3)), maxLagMs: MAX_LAG, seconds: SECONDS, connections: CONNECTIONS, cpus: (await import('node:os')).cpus().length }));
cleanup();
process.exit(0);
