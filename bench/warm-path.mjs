#!/usr/bin/env node
// Warm-path benchmark: p50/p99 latency and throughput of warm invocations through the platform
// (gateway → activator → queue-proxy → instance) versus calling the same instance's runtime shim
// directly over its Unix socket, measured in the same run, alternating rounds so machine drift
// hits both sides alike. The platform is measured over TCP (its URL) and over its Unix socket (the
// same gateway without the loopback TCP stack, as the direct call has). Two platforms run side by side, one with tracing off (--trace-sample 0)
// and one tracing every invocation (--trace-sample 1), so the cost of tracing shows in the same run.
// The gateway's CPU time per request (user + system, from /proc) shows what its busy-polling costs;
// `--busy-poll US` is passed to both platforms (`hivelab up --busy-poll`, default 100).
//
// `--stand-in FILE` also measures a stand-in for the platform (bench/stand-ins/*.mjs, started with
// the instance's socket; it prints {"port": N}) in the same rounds: how much any proxy in the path
// keeps of the direct throughput on this machine.
//
//   node bench/warm-path.mjs [--seconds 5] [--rounds 3] [--concurrency 1,32] [--busy-poll US] [--stand-in FILE] [--json]
import { parseArgs } from 'node:util';
import { execFileSync, spawn } from 'node:child_process';
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
    json: { type: 'boolean', default: false },
    label: { type: 'string', default: '' },
    'busy-poll': { type: 'string' },
    'stand-in': { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const levels = values.concurrency.split(',').map(Number);
const log = (...a) => values.json || console.error(...a);

const states = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'hivelab-warm-')));
const hivelab = (state, ...args) => execFileSync(process.execPath, [BIN, ...args, '--state', state], { encoding: 'utf8' });
const poll = values['busy-poll'] === undefined ? [] : ['--busy-poll', values['busy-poll']];
log(hivelab(states[0], 'up', '--detach', '--port', '0', '--trace-sample', '0', ...poll).trim());
log(hivelab(states[1], 'up', '--detach', '--port', '0', '--trace-sample', '1', ...poll).trim());

try {
  const body = JSON.stringify({ n: 1 });
  const targets = states.map((state) => {
    const { url, socket } = JSON.parse(readFileSync(join(state, 'platform.json'), 'utf8'));
    const tokens = JSON.parse(readFileSync(join(state, 'tokens.json'), 'utf8'));
    hivelab(state, 'deploy', join(ROOT, 'bench', 'functions', 'warm-echo'));
    const gateway = new Pool(url, { connections: 64, pipelining: 1 });
    const gatewayUnix = new Pool('http://localhost', { socketPath: socket, connections: 64, pipelining: 1 });
    const request = (pool) => () =>
      pool.request({
        path: '/invoke/warm-echo',
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.invoke}`, 'content-type': 'application/json' },
        body,
      });
    return { state, pools: [gateway, gatewayUnix], send: request(gateway), sendUnix: request(gatewayUnix) };
  });
  const [viaPlatform, viaTraced] = targets.map((t) => t.send);
  const gatewayPid = JSON.parse(readFileSync(join(states[0], 'platform.json'), 'utf8')).pid;
  // CPU seconds (user + system) the process has used; fields 14 and 15 of /proc/PID/stat, in ticks.
  const cpuSeconds = (pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  const viaPlatformUnix = targets[0].sendUnix;
  // Warm up (cold start) and find the instance the untraced platform routes to.
  const first = await viaPlatform();
  await first.body.text();
  await (await viaTraced()).body.text();
  const instanceId = first.headers['x-hivelab-instance-id'];
  const socketPath = join(states[0], 'run', instanceId, 'fn.sock');
  const direct = new Pool('http://instance', { socketPath, connections: 64, pipelining: 1 });
  const viaSocket = () =>
    direct.request({
      path: '/invoke',
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hivelab-invocation-id': 'bench', 'x-hivelab-deadline': String(Date.now() + 60_000) },
      body,
    });
  let standIn;
  let viaStandIn;
  if (values['stand-in']) {
    standIn = spawn(process.execPath, [resolve(values['stand-in']), socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    const { port } = await new Promise((ok, fail) => {
      standIn.once('exit', (code) => fail(new Error(`stand-in ${values['stand-in']} exited (${code})`)));
      standIn.stdout.once('data', (d) => ok(JSON.parse(String(d))));
    });
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 64, pipelining: 1 });
    targets[0].pools.push(pool);
    viaStandIn = () => pool.request({ path: '/invoke', method: 'POST', headers: { 'content-type': 'application/json', 'x-hivelab-invocation-id': 'bench', 'x-hivelab-deadline': String(Date.now() + 60_000) }, body });
  }

  // Closed loop: `c` callers, each sending its next request when the previous one returned.
  async function measure(send, c, ms) {
    const lat = [];
    let errors = 0;
    const cpu0 = cpuSeconds(gatewayPid);
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
    const gatewayCpuUs = ((cpuSeconds(gatewayPid) - cpu0) * 1e6) / Math.max(1, lat.length);
    return { n: lat.length, errors, p50: q(0.5), p99: q(0.99), rps: lat.length / (ms / 1000), gatewayCpuUs };
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

  const results = [];
  const summary = (xs) => ({ p50Ms: median(xs.map((x) => x.p50)), p99Ms: median(xs.map((x) => x.p99)), rps: median(xs.map((x) => x.rps)), gatewayCpuUs: median(xs.map((x) => x.gatewayCpuUs)) });
  for (const c of levels) {
    for (const f of [viaSocket, viaPlatform, viaPlatformUnix, viaTraced, viaStandIn].filter(Boolean)) await measure(f, c, 1000); // warm-up at this level
    const si = [];
    const d = [];
    const p = [];
    const u = [];
    const tr = [];
    for (let r = 0; r < rounds; r++) {
      d.push(await measure(viaSocket, c, seconds * 1000));
      p.push(await measure(viaPlatform, c, seconds * 1000));
      u.push(await measure(viaPlatformUnix, c, seconds * 1000));
      tr.push(await measure(viaTraced, c, seconds * 1000));
      if (viaStandIn) {
        si.push(await measure(viaStandIn, c, seconds * 1000));
        log(`  c=${c} round ${r + 1}: stand-in p50 ${si.at(-1).p50.toFixed(3)} ms ${si.at(-1).rps.toFixed(0)} req/s`);
      }
      log(`  c=${c} round ${r + 1}: direct p50 ${d.at(-1).p50.toFixed(3)} ms ${d.at(-1).rps.toFixed(0)} req/s | platform p50 ${p.at(-1).p50.toFixed(3)} ms ${p.at(-1).rps.toFixed(0)} req/s, gateway CPU ${p.at(-1).gatewayCpuUs.toFixed(0)} µs/req | platform (unix) p50 ${u.at(-1).p50.toFixed(3)} ms ${u.at(-1).rps.toFixed(0)} req/s | traced p50 ${tr.at(-1).p50.toFixed(3)} ms ${tr.at(-1).rps.toFixed(0)} req/s`);
    }
    const row = { concurrency: c, direct: summary(d), platform: summary(p), platformUnix: summary(u), traced: summary(tr), errors: [...d, ...p, ...u, ...tr, ...si].reduce((s, x) => s + x.errors, 0) };
    row.addedP50Ms = row.platform.p50Ms - row.direct.p50Ms;
    row.throughputRatio = row.platform.rps / row.direct.rps;
    row.unixAddedP50Ms = row.platformUnix.p50Ms - row.direct.p50Ms;
    row.unixThroughputRatio = row.platformUnix.rps / row.direct.rps;
    row.tracingAddedP50Ms = row.traced.p50Ms - row.platform.p50Ms;
    if (viaStandIn) {
      row.standIn = summary(si);
      row.standInThroughputRatio = row.standIn.rps / row.direct.rps;
    }
    results.push(row);
  }
  for (const t of targets) for (const pool of t.pools) await pool.close();
  await direct.close();
  standIn?.kill();

  if (values.json) console.log(JSON.stringify({ label: values.label, seconds, rounds, results }, null, 2));
  else {
    console.log(`\nwarm path${values.label ? ` (${values.label})` : ''}: median of ${rounds} rounds of ${seconds} s, closed loop`);
    console.log('conc | direct p50 / p99 ms | platform p50 / p99 ms | added p50 ms | direct req/s | platform req/s | ratio | gateway CPU µs/req | unix: added p50 ms, req/s, ratio | traced p50 / p99 ms | traced req/s');
    for (const r of results) {
      console.log(
        `${String(r.concurrency).padStart(4)} | ${r.direct.p50Ms.toFixed(3)} / ${r.direct.p99Ms.toFixed(3)} | ${r.platform.p50Ms.toFixed(3)} / ${r.platform.p99Ms.toFixed(3)} | ${r.addedP50Ms.toFixed(3)} | ${r.direct.rps.toFixed(0)} | ${r.platform.rps.toFixed(0)} | ${(r.throughputRatio * 100).toFixed(0)} % | ${r.platform.gatewayCpuUs.toFixed(0)} | ${r.unixAddedP50Ms.toFixed(3)}, ${r.platformUnix.rps.toFixed(0)}, ${(r.unixThroughputRatio * 100).toFixed(0)} % | ${r.traced.p50Ms.toFixed(3)} / ${r.traced.p99Ms.toFixed(3)} | ${r.traced.rps.toFixed(0)}`,
      );
    }
    for (const r of results.filter((x) => x.standIn)) console.log(`stand-in ${values['stand-in']}, c=${r.concurrency}: ${r.standIn.rps.toFixed(0)} req/s, ${(r.standInThroughputRatio * 100).toFixed(0)} % of direct (platform ${(r.throughputRatio * 100).toFixed(0)} %)`);
    if (results.some((r) => r.errors > 0)) console.log(`errors: ${results.map((r) => r.errors).join(', ')}`);
  }
} finally {
  for (const state of states) {
    try {
      hivelab(state, 'down');
    } catch {}
    rmSync(state, { recursive: true, force: true });
  }
}
