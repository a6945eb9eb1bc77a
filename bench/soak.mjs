#!/usr/bin/env node
// Soak test (issue 18; not part of `npm test`): open-loop Poisson load over the function suite for
// --minutes, while an instance is killed every --kill-instance-s and a worker every --kill-worker-s.
// Reports requests sent, answered and failed (by HTTP status and error type), and — once a minute —
// the platform's memory (control plane + workers, RSS) and open descriptors: nothing may be lost
// (every request ends with an answer) and nothing may grow.
//
//   npx tsc -p tsconfig.json && node bench/soak.mjs [--minutes 30] [--rate 8] [--workers 2]
//       [--kill-instance-s 15] [--kill-worker-s 120] [--functions a,b,…] [--json out.json]
//
// The platform runs as `hivelab up` in its own process (fresh state folder), so what is measured is
// the platform alone, not this load generator. Stops by itself after --minutes, stops the platform
// and removes its state folder.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { request, Agent } from 'undici';

const ROOT = resolve(import.meta.dirname, '..');
const { values: a } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    rate: { type: 'string', default: '8' },
    workers: { type: 'string', default: '2' },
    'kill-instance-s': { type: 'string', default: '15' },
    'kill-worker-s': { type: 'string', default: '120' },
    'sample-s': { type: 'string', default: '60' },
    functions: { type: 'string' },
    json: { type: 'string' },
    seed: { type: 'string', default: '1' },
  },
});
const MINUTES = Number(a.minutes);
const RATE = Number(a.rate);
for (const [k, v] of Object.entries({ minutes: MINUTES, rate: RATE })) {
  if (!(v > 0)) {
    console.error(`soak: --${k} must be a positive number`);
    process.exit(2);
  }
}

// A seeded generator: the same --seed gives the same arrival times and function mix.
let seed = Number(a.seed) >>> 0 || 1;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const expo = (mean) => -Math.log(1 - rand()) * mean;

async function suiteFunctions() {
  const dir = join(ROOT, 'functions');
  const names = a.functions ? a.functions.split(',') : (await readdir(dir)).filter((n) => existsSync(join(dir, n, 'sample-input.json')));
  return Promise.all(names.map(async (name) => ({ name, dir: join(dir, name), input: await readFile(join(dir, name, 'sample-input.json'), 'utf8') })));
}

async function procStats(pid) {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const fds = (await readdir(`/proc/${pid}/fd`)).length;
    return { rssMB: rssKb / 1024, fds };
  } catch {
    return { rssMB: 0, fds: 0 };
  }
}

const state = await mkdtemp(join(tmpdir(), 'hivelab-soak-'));
const platform = spawn(process.execPath, [join(ROOT, 'bin', 'hivelab.js'), 'up', '--state', state, '--port', '0', '--workers', a.workers], {
  stdio: ['ignore', 'ignore', 'pipe'],
});
let platformLog = '';
platform.stderr.on('data', (d) => (platformLog = (platformLog + d).slice(-20_000)));
const deadline = Date.now() + 60_000;
while (!existsSync(join(state, 'platform.json'))) {
  if (Date.now() > deadline || platform.exitCode !== null) {
    console.error(`soak: the platform did not start:\n${platformLog}`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 200));
}
const { url } = JSON.parse(await readFile(join(state, 'platform.json'), 'utf8'));
const tokens = JSON.parse(await readFile(join(state, 'tokens.json'), 'utf8'));
const dispatcher = new Agent({ connections: 256, headersTimeout: 0, bodyTimeout: 0 });
const api = async (method, path, body) => {
  const res = await request(`${url}${path}`, {
    method,
    dispatcher,
    headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.statusCode, json: await res.body.json().catch(() => ({})) };
};

const fns = await suiteFunctions();
for (const f of fns) {
  const r = await api('POST', '/v1/functions', { path: f.dir });
  if (r.status >= 300) console.error(`soak: deploy ${f.name}: ${r.status} ${JSON.stringify(r.json)}`);
}
console.error(`soak: ${fns.length} functions on ${url}; ${RATE} req/s for ${MINUTES} min, an instance killed every ${a['kill-instance-s']} s, a worker every ${a['kill-worker-s']} s`);

const counts = { sent: 0, answered: 0, ok: 0, failed: 0, transportErrors: 0, byStatus: {}, byType: {} };
const inflight = new Set();
const latencies = [];
function invoke(f) {
  counts.sent++;
  const t0 = performance.now();
  const p = request(`${url}/invoke/${f.name}`, {
    method: 'POST',
    dispatcher,
    headers: { authorization: `Bearer ${tokens.invoke}`, 'content-type': 'application/json' },
    body: f.input,
  })
    .then(async (res) => {
      const text = await res.body.text();
      counts.answered++;
      counts.byStatus[res.statusCode] = (counts.byStatus[res.statusCode] ?? 0) + 1;
      if (res.statusCode === 200) {
        counts.ok++;
        latencies.push(performance.now() - t0);
      } else {
        counts.failed++;
        let type = 'unknown';
        try {
          type = JSON.parse(text).error?.type ?? type;
        } catch {}
        const key = `${res.statusCode} ${type}`;
        counts.byType[key] = (counts.byType[key] ?? 0) + 1;
      }
    })
    .catch((err) => {
      counts.transportErrors++;
      const key = `transport ${err.code ?? err.name}`;
      counts.byType[key] = (counts.byType[key] ?? 0) + 1;
    })
    .finally(() => inflight.delete(p));
  inflight.add(p);
}

const kills = { instances: 0, workers: 0 };
async function killInstance() {
  const { json } = await api('GET', '/v1/functions');
  const all = (json.functions ?? []).flatMap((f) => f.instances.filter((i) => i.pid && i.state !== 'dead'));
  if (all.length === 0) return;
  const victim = all[Math.floor(rand() * all.length)];
  try {
    process.kill(victim.pid, 'SIGKILL');
    kills.instances++;
  } catch {}
}
async function killWorker() {
  const { json } = await api('GET', '/v1/status');
  const alive = (json.workers ?? []).filter((w) => w.alive && w.pid);
  if (alive.length === 0) return;
  try {
    process.kill(alive[Math.floor(rand() * alive.length)].pid, 'SIGKILL');
    kills.workers++;
  } catch {}
}

const samples = [];
let lastByType = {};
async function sample() {
  // failures by type since the previous sample: a phase of failures shows where it happened
  const failedSince = {};
  for (const [k, v] of Object.entries(counts.byType)) if (v !== (lastByType[k] ?? 0)) failedSince[k] = v - (lastByType[k] ?? 0);
  lastByType = { ...counts.byType };
  const { json } = await api('GET', '/v1/status');
  const cp = await procStats(platform.pid);
  const workers = await Promise.all((json.workers ?? []).filter((w) => w.pid).map((w) => procStats(w.pid)));
  const s = {
    minute: Math.round(((Date.now() - started) / 60_000) * 10) / 10,
    sent: counts.sent,
    answered: counts.answered,
    failed: counts.failed,
    inFlight: inflight.size,
    controlPlaneRssMB: Math.round(cp.rssMB),
    controlPlaneFds: cp.fds,
    workersRssMB: Math.round(workers.reduce((x, w) => x + w.rssMB, 0)),
    workersFds: workers.reduce((x, w) => x + w.fds, 0),
    instances: (json.workers ?? []).reduce((x, w) => x + w.instances.length, 0),
    services: (json.services ?? []).map((v) => `${v.name}:${v.state}/${v.restarts}`).join(' '),
    workersAlive: (json.workers ?? []).filter((w) => w.alive).length,
    // the host's load: the figures above only describe the platform on a machine that had cores free
    load1: Math.round(loadavg()[0] * 10) / 10,
    failedSince,
  };
  samples.push(s);
  console.error(`soak: ${JSON.stringify(s)}`);
}

const started = Date.now();
const end = started + MINUTES * 60_000;
await sample();
const timers = [
  setInterval(() => void killInstance().catch(() => {}), Number(a['kill-instance-s']) * 1000),
  setInterval(() => void killWorker().catch(() => {}), Number(a['kill-worker-s']) * 1000),
  setInterval(() => void sample().catch(() => {}), Number(a['sample-s']) * 1000),
];
// Ctrl-C (or SIGTERM) ends the load early; the report and the clean-up still happen.
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => (interrupted = true));
// open loop: arrivals on a Poisson schedule, whatever the answers do
let next = performance.now();
while (Date.now() < end && !interrupted) {
  next += expo(1000 / RATE);
  const wait = next - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  invoke(fns[Math.floor(rand() * fns.length)]);
}
for (const t of timers) clearInterval(t);
// every request must end: wait for the stragglers (each has the function's timeout at most)
const drainUntil = Date.now() + 180_000;
while (inflight.size > 0 && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 200));
await sample();
const unanswered = inflight.size;

latencies.sort((x, y) => x - y);
const pct = (p) => (latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] * 10) / 10 : null);
const report = {
  command: `node bench/soak.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  minutes: MINUTES,
  ranMinutes: Math.round(((Date.now() - started) / 60_000) * 10) / 10,
  rate: RATE,
  functions: fns.map((f) => f.name),
  kills,
  ...counts,
  unanswered,
  latencyMs: { p50: pct(0.5), p99: pct(0.99) },
  samples,
};
console.log(JSON.stringify(report, null, 2));
if (a.json) await writeFile(a.json, JSON.stringify(report, null, 2) + '\n');

platform.kill('SIGTERM');
const stopBy = setTimeout(() => platform.kill('SIGKILL'), 20_000);
await new Promise((r) => platform.once('exit', r));
clearTimeout(stopBy);
await dispatcher.close();
await rm(state, { recursive: true, force: true });
process.exit(unanswered === 0 ? 0 : 1);
