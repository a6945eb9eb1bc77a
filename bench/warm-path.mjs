#!/usr/bin/env node
// Warm-path benchmark: p50/p99 latency and throughput of warm invocations through the platform
// (gateway → activator → queue-proxy → instance) versus calling the same instance's runtime shim
// directly over its Unix socket, measured in the same run, alternating rounds so machine drift
// hits both sides alike.
//
//   node bench/warm-path.mjs [--seconds 5] [--rounds 3] [--concurrency 1,32] [--state DIR] [--json]
//
// Starts its own platform (hivelab up --detach) with a fresh state folder unless --state names a
// running one.
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Pool } from 'undici';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'hivelab.js');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,32' },
    state: { type: 'string' },
    json: { type: 'boolean', default: false },
    label: { type: 'string', default: '' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const levels = values.concurrency.split(',').map(Number);
const log = (...a) => values.json || console.error(...a);

const ownState = !values.state;
const state = values.state ?? mkdtempSync(join(tmpdir(), 'hivelab-warm-'));
const hivelab = (...args) => execFileSync(process.execPath, [BIN, ...args, '--state', state], { encoding: 'utf8' });
if (ownState) log(hivelab('up', '--detach', '--port', '0').trim());

try {
  const { url } = JSON.parse(readFileSync(join(state, 'platform.json'), 'utf8'));
  const tokens = JSON.parse(readFileSync(join(state, 'tokens.json'), 'utf8'));
  hivelab('deploy', join(ROOT, 'bench', 'functions', 'warm-echo'));

  const gateway = new Pool(url, { connections: 64, pipelining: 1 });
  const body = JSON.stringify({ n: 1 });
  const viaPlatform = () =>
    gateway.request({
      path: '/invoke/warm-echo',
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.invoke}`, 'content-type': 'application/json' },
      body,
    });
  // Warm up (cold start) and find the instance the platform routes to.
  const first = await viaPlatform();
  await first.body.text();
  const instanceId = first.headers['x-hivelab-instance-id'];
  const socketPath = join(state, 'run', instanceId, 'fn.sock');
  const direct = new Pool('http://instance', { socketPath, connections: 64, pipelining: 1 });
  const viaSocket = () =>
    direct.request({
      path: '/invoke',
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hivelab-invocation-id': 'bench', 'x-hivelab-deadline': String(Date.now() + 60_000) },
      body,
    });

  // Closed loop: `c` callers, each sending its next request when the previous one returned.
  async function measure(send, c, ms) {
    const lat = [];
    let errors = 0;
    const until = performance.now() + ms;
    await Promise.all(
      Array.from({ length: c }, async () => {
        while (performance.now() < until) {
          const t0 = performance.now();
          const res = await send();
          await res.body.text();
          if (res.statusCode !== 200) errors++;
          lat.push(performance.now() - t0);
        }
      }),
    );
    lat.sort((a, b) => a - b);
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    return { n: lat.length, errors, p50: q(0.5), p99: q(0.99), rps: lat.length / (ms / 1000) };
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

  const results = [];
  for (const c of levels) {
    await measure(viaSocket, c, 1000); // warm-up both paths at this level
    await measure(viaPlatform, c, 1000);
    const d = [];
    const p = [];
    for (let r = 0; r < rounds; r++) {
      d.push(await measure(viaSocket, c, seconds * 1000));
      p.push(await measure(viaPlatform, c, seconds * 1000));
      log(`  c=${c} round ${r + 1}: direct p50 ${d.at(-1).p50.toFixed(3)} ms ${d.at(-1).rps.toFixed(0)} req/s | platform p50 ${p.at(-1).p50.toFixed(3)} ms ${p.at(-1).rps.toFixed(0)} req/s`);
    }
    const row = {
      concurrency: c,
      direct: { p50Ms: median(d.map((x) => x.p50)), p99Ms: median(d.map((x) => x.p99)), rps: median(d.map((x) => x.rps)) },
      platform: { p50Ms: median(p.map((x) => x.p50)), p99Ms: median(p.map((x) => x.p99)), rps: median(p.map((x) => x.rps)) },
      errors: d.concat(p).reduce((s, x) => s + x.errors, 0),
    };
    row.addedP50Ms = row.platform.p50Ms - row.direct.p50Ms;
    row.throughputRatio = row.platform.rps / row.direct.rps;
    results.push(row);
  }
  await gateway.close();
  await direct.close();

  if (values.json) console.log(JSON.stringify({ label: values.label, seconds, rounds, results }, null, 2));
  else {
    console.log(`\nwarm path${values.label ? ` (${values.label})` : ''}: median of ${rounds} rounds of ${seconds} s, closed loop`);
    console.log('conc | direct p50 / p99 ms | platform p50 / p99 ms | added p50 ms | direct req/s | platform req/s | ratio');
    for (const r of results) {
      console.log(
        `${String(r.concurrency).padStart(4)} | ${r.direct.p50Ms.toFixed(3)} / ${r.direct.p99Ms.toFixed(3)} | ${r.platform.p50Ms.toFixed(3)} / ${r.platform.p99Ms.toFixed(3)} | ${r.addedP50Ms.toFixed(3)} | ${r.direct.rps.toFixed(0)} | ${r.platform.rps.toFixed(0)} | ${(r.throughputRatio * 100).toFixed(0)} %`,
      );
    }
  }
} finally {
  if (ownState) {
    try {
      hivelab('down');
    } catch {}
    rmSync(state, { recursive: true, force: true });
  }
}
