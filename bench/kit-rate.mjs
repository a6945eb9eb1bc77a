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
// R grows ×1.5 per step (up to --repeats trials per rate, see below) until the server stops keeping
// up or the median lag passes the threshold, then a bisection refines the top;
// the maxima for the p99 (the target), p95 and p50 lag criteria are read from the same trials (the
// relaxed ones separate the kit's own capacity from this shared VM's scheduling stalls). autocannon
// runs before and after the sweep with the same connections and duration; the better of its two
// throughputs is the closed-loop ceiling the kit is compared with (target ≥ 80 %). 127.0.0.1 only.
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
    'start-rate': { type: 'string', default: '1000' },
    // Raised scheduling priority (negative nice; needs root) for the kit and the server, so other
    // work sharing these 2 cores does not preempt them; 0 leaves the priority alone.
    nice: { type: 'string', default: '-10' },
    // Trials per rate: this 2-vCPU VM is shared, and a single scheduling stall of tens of ms in a
    // 3 s trial decides its p99; a rate counts as sustained if any of its trials meets the criterion.
    repeats: { type: 'string', default: '3' },
  },
});
const SECONDS = Number(a.seconds);
const CONNECTIONS = Number(a.connections);
const MAX_LAG = Number(a['max-lag-ms']);
const REPEATS = Math.max(1, Number(a.repeats));

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
  const cpu0 = process.cpuUsage();
  const res = await runOpenLoop(reqs, { connections: CONNECTIONS, reuseConnections: true, timeoutMs: 10_000, coldThresholdMs: 1e9, keepBodies: false, signal: deadline.signal });
  clearTimeout(timer);
  const cpu = process.cpuUsage(cpu0);
  const cpuUsPerRequest = (cpu.user + cpu.system) / Math.max(1, res.records.length);
  const lag = latencyStatistics(res.records.map((r) => r.sentMs - r.scheduledMs));
  const wire = latencyStatistics(res.records.map((r) => r.startedMs - r.scheduledMs));
  const ok = res.records.filter((r) => r.status === 200);
  const completed = ok.length / n;
  const lat = latencyStatistics(ok.map((r) => r.latencyMs));
  const p90 = latencyStatistics(res.records.map((r) => r.sentMs - r.scheduledMs).sort((x, y) => x - y));
  // Kept up: nearly everything completed and the median request was not left waiting for a
  // connection (undici queueing means the server, not the kit, set the pace).
  const keptUp = completed >= 0.95 && wire.p50 <= MAX_LAG;
  const trial = { rate, cpuUsPerRequest, lagP50: lag.p50, lagP95: p90.p95, lagP99: lag.p99, wireP50: wire.p50, wireP99: wire.p99, completed, keptUp };
  console.log(
    `  kit @ ${rate.toFixed(0).padStart(6)} req/s: send lag p50 ${lag.p50.toFixed(3)} / p95 ${p90.p95.toFixed(3)} / p99 ${lag.p99.toFixed(3)} ms, ` +
      `on-the-wire lag p50 ${wire.p50.toFixed(3)} / p99 ${wire.p99.toFixed(3)} ms, completed ${(completed * 100).toFixed(1)} %, latency p50 ${lat.p50.toFixed(3)} / p99 ${lat.p99.toFixed(3)} ms, client CPU ${cpuUsPerRequest.toFixed(1)} µs/req${keptUp ? '' : ' (server did not keep up)'}`,
  );
  return trial;
}

const acCpu = [];
async function autocannonRun(label) {
  const cpu0 = process.cpuUsage();
  const r = await autocannon({ url, method: 'POST', body, headers: { 'content-type': 'application/json' }, connections: CONNECTIONS, pipelining: 1, duration: SECONDS });
  const cpu = process.cpuUsage(cpu0);
  const cpuUs = (cpu.user + cpu.system) / Math.max(1, r.requests.total);
  acCpu.push(cpuUs);
  console.log(`  autocannon (${label}): ${r.requests.average.toFixed(0)} req/s (latency p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, errors ${r.errors}, non-2xx ${r.non2xx}), client CPU ${cpuUs.toFixed(1)} µs/req`);
  return r.requests.average;
}

// Warm the JIT and the connections once; not counted.
await kitTrial(500);
const acBefore = await autocannonRun('before the sweep');

// Sweep offered rates upwards (×1.5) until the server no longer keeps up or the median lag passes
// the threshold; every trial is kept so each criterion's maximum comes from the same runs.
const trials = [];
const okP99 = (t) => t.keptUp && t.lagP99 <= MAX_LAG;
/** Up to REPEATS trials at `rate`, stopping at the first that meets the p99 criterion. */
async function trialsAt(rate) {
  let last;
  for (let k = 0; k < REPEATS; k++) {
    last = await kitTrial(rate);
    trials.push(last);
    if (okP99(last) || !last.keptUp) break;
  }
  return last;
}
for (let rate = Number(a['start-rate']); rate <= 200_000; rate = Math.round(rate * 1.5)) {
  const t = await trialsAt(rate);
  if (!t.keptUp || t.lagP50 > MAX_LAG) break;
}
// Refine the p99 criterion's maximum between the last rate that met it and the next one tried.
{
  let lo = Math.max(0, ...trials.filter(okP99).map((t) => t.rate));
  let hi = Math.min(...trials.filter((t) => t.rate > lo).map((t) => t.rate));
  while (lo > 0 && Number.isFinite(hi) && hi / lo > 1.08) {
    const mid = Math.round((lo + hi) / 2);
    const t = await trialsAt(mid);
    if (okP99(t)) lo = mid;
    else hi = mid;
  }
}
const acAfter = await autocannonRun('after the sweep');
// autocannon's runs vary with the same stalls; its better run is the fair ceiling.
const acRate = Math.max(acBefore, acAfter);

const best = (pick) => Math.max(0, ...trials.filter((t) => t.keptUp && pick(t) <= MAX_LAG).map((t) => t.rate));
const strict = best((t) => t.lagP99);
const p95 = best((t) => t.lagP95);
const median = best((t) => t.lagP50);
const ratio = strict / acRate;
console.log('');
console.log(`autocannon throughput (${CONNECTIONS} connections, better of 2 runs): ${acRate.toFixed(0)} req/s`);
console.log(`kit max open-loop rate, send-lag p99 ≤ ${MAX_LAG} ms: ${strict} req/s  (${((strict / acRate) * 100).toFixed(1)} % of autocannon)`);
console.log(`kit max open-loop rate, send-lag p95 ≤ ${MAX_LAG} ms: ${p95} req/s  (${((p95 / acRate) * 100).toFixed(1)} %)`);
console.log(`kit max open-loop rate, send-lag p50 ≤ ${MAX_LAG} ms: ${median} req/s  (${((median / acRate) * 100).toFixed(1)} %)`);
console.log(`target ≥ 80 % (p99 criterion, best of ${REPEATS} trials per rate, against autocannon's better run) → ${ratio >= 0.8 ? 'MET' : 'NOT MET'}`);
// CPU per request: the kit polls the clock between sends, so at a rate R it uses about one core
// and its CPU per request is ≈ 1e6 / R µs; at its top rate that is an upper bound on its real cost.
const top = trials.filter((t) => t.keptUp && t.lagP99 <= MAX_LAG).sort((x, y) => y.rate - x.rate)[0];
const kitCpu = top ? top.cpuUsPerRequest : NaN;
const acCpuMean = acCpu.reduce((x, y) => x + y, 0) / acCpu.length;
console.log(`client CPU per request: kit ≤ ${kitCpu.toFixed(1)} µs (at its top rate, includes clock polling), autocannon ${acCpuMean.toFixed(1)} µs`);
console.log(JSON.stringify({ kitCpuUsPerRequest: Number(kitCpu.toFixed(2)), autocannonCpuUsPerRequest: Number(acCpuMean.toFixed(2)), kitMaxRateP99: strict, kitMaxRateP95: p95, kitMaxRateP50: median, autocannonRate: Math.round(acRate), autocannonRuns: [Math.round(acBefore), Math.round(acAfter)], repeats: REPEATS, ratio: Number(ratio.toFixed(3)), maxLagMs: MAX_LAG, seconds: SECONDS, connections: CONNECTIONS, cpus: (await import('node:os')).cpus().length, loadavg: (await import('node:os')).loadavg().map((x) => Number(x.toFixed(2))), trials }));
cleanup();
process.exit(0);
