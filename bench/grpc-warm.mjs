#!/usr/bin/env node
// gRPC warm-path benchmark: p50/p99 latency and throughput of warm unary gRPC calls through the
// platform (h2c gateway → activator → queue-proxy → HTTP/2 session → port bridge → function) versus
// calling the same instance directly over its Unix socket (port bridge → function: what the
// queue-proxy itself dials), with a stock client (@grpc/grpc-js, one channel per side) in the same
// run, alternating rounds so machine drift hits both sides alike. Tracing off (--trace-sample 0).
//
//   node bench/grpc-warm.mjs [--seconds 5] [--rounds 3] [--concurrency 1,32] [--json]
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'hivelab.js');
const FN = join(ROOT, 'bench', 'functions', 'grpc-echo');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,32' },
    json: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const levels = values.concurrency.split(',').map(Number);
const log = (...a) => values.json || console.error(...a);

const state = mkdtempSync(join(tmpdir(), 'hivelab-grpc-warm-'));
const hivelab = (...args) => execFileSync(process.execPath, [BIN, ...args, '--state', state], { encoding: 'utf8' });
log(hivelab('up', '--detach', '--port', '0', '--trace-sample', '0').trim());
const Greeter = grpc.loadPackageDefinition(loader.loadSync(join(FN, 'helloworld.proto'), { keepCase: true })).helloworld.Greeter;
const clients = [];
try {
  const { url } = JSON.parse(readFileSync(join(state, 'platform.json'), 'utf8'));
  const tokens = JSON.parse(readFileSync(join(state, 'tokens.json'), 'utf8'));
  hivelab('deploy', FN);
  const platform = new Greeter(new URL(url).host, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'grpc-echo.default.example.com' });
  clients.push(platform);
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${tokens.invoke}`);
  const call = (client, meta) => () =>
    new Promise((ok) => {
      let instance;
      const c = client.SayHello({ name: 'bench' }, meta, { deadline: Date.now() + 60_000 }, (err) => ok({ err, instance }));
      c.on('metadata', (m) => (instance = m.get('x-hivelab-instance-id')[0]));
    });
  const viaPlatform = call(platform, md);
  // Cold start, then find the instance and dial its socket directly.
  const first = await viaPlatform();
  if (first.err) throw first.err;
  const socketPath = join(state, 'run', String(first.instance), 'fn.sock');
  const direct = new Greeter(`unix://${socketPath}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'instance' });
  clients.push(direct);
  const viaSocket = call(direct, new grpc.Metadata());

  async function measure(send, c, ms) {
    const lat = [];
    let errors = 0;
    const until = performance.now() + ms;
    await Promise.all(
      Array.from({ length: c }, async () => {
        while (performance.now() < until) {
          const t0 = performance.now();
          const r = await send();
          if (r.err) errors++;
          lat.push(performance.now() - t0);
        }
      }),
    );
    lat.sort((a, b) => a - b);
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    return { n: lat.length, errors, p50: q(0.5), p99: q(0.99), rps: lat.length / (ms / 1000) };
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const summary = (xs) => ({ p50Ms: median(xs.map((x) => x.p50)), p99Ms: median(xs.map((x) => x.p99)), rps: median(xs.map((x) => x.rps)) });
  const results = [];
  for (const c of levels) {
    for (const f of [viaSocket, viaPlatform]) await measure(f, c, 1000); // warm-up at this level
    const d = [];
    const p = [];
    for (let r = 0; r < rounds; r++) {
      d.push(await measure(viaSocket, c, seconds * 1000));
      p.push(await measure(viaPlatform, c, seconds * 1000));
      log(`  c=${c} round ${r + 1}: direct p50 ${d.at(-1).p50.toFixed(3)} ms ${d.at(-1).rps.toFixed(0)} calls/s | platform p50 ${p.at(-1).p50.toFixed(3)} ms ${p.at(-1).rps.toFixed(0)} calls/s`);
    }
    const row = { concurrency: c, direct: summary(d), platform: summary(p), errors: [...d, ...p].reduce((s, x) => s + x.errors, 0) };
    row.addedP50Ms = row.platform.p50Ms - row.direct.p50Ms;
    row.throughputRatio = row.platform.rps / row.direct.rps;
    results.push(row);
  }
  if (values.json) console.log(JSON.stringify({ seconds, rounds, results }, null, 2));
  else {
    console.log(`\ngRPC warm path: median of ${rounds} rounds of ${seconds} s, closed loop, grpc-js client`);
    console.log('conc | direct p50 / p99 ms | platform p50 / p99 ms | added p50 ms | direct calls/s | platform calls/s | ratio');
    for (const r of results) {
      console.log(
        `${String(r.concurrency).padStart(4)} | ${r.direct.p50Ms.toFixed(3)} / ${r.direct.p99Ms.toFixed(3)} | ${r.platform.p50Ms.toFixed(3)} / ${r.platform.p99Ms.toFixed(3)} | ${r.addedP50Ms.toFixed(3)} | ${r.direct.rps.toFixed(0)} | ${r.platform.rps.toFixed(0)} | ${(r.throughputRatio * 100).toFixed(0)} %`,
      );
    }
    if (results.some((r) => r.errors > 0)) console.log(`errors: ${results.map((r) => r.errors).join(', ')}`);
  }
} finally {
  for (const c of clients) c.close();
  try {
    hivelab('down');
  } catch {}
  rmSync(state, { recursive: true, force: true });
}
