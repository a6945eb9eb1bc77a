#!/usr/bin/env node
// Where the time of an XDT 1-1 goes, hop by hop (profiling aid for the data plane): two stand-alone
// worker processes with a sidecar each; this process plays the SDK. Per iteration, for SIZE bytes:
//   put  — SDK → producer sidecar (UDS) into pool buffers (stored object)
//   get  — consumer sidecar pulls over HTTP/2 from the producer's peer server → SDK (UDS)
//   raw  — a bare HTTP/2 stream of the same size (the ceiling)
// With `same`, both sidecars are on one worker (the platform's default): get is then served from the
// pool buffers without HTTP/2. Needs a build. Usage: node bench/xdt-hops.mjs [sizeMB=100] [iterations=8] [same]
import { fork } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { sdkFor } from '../dist/runtime/node/sdk.js';
import { startRawStreamSource } from '../dist/benchkit/xdt/http2-raw.js';

const size = Number(process.argv[2] ?? 100) * 1024 * 1024;
const iterations = Number(process.argv[3] ?? 8);
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'xdt-hops-'));
const entry = new URL('../dist/benchkit/xdt/worker-process.js', import.meta.url).pathname;
let seq = 0;
function worker() {
  const child = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  child.on('message', (m) => {
    const p = pending.get(m.id);
    pending.delete(m.id);
    m.ok ? p.resolve(m.result) : p.reject(new Error(m.error));
  });
  return { child, call: (cmd, args = {}) => new Promise((resolve, reject) => { const id = ++seq; pending.set(id, { resolve, reject }); child.send({ id, cmd, ...args }); }) };
}
const sealKey = randomBytes(32).toString('base64');
const ws = [worker(), worker()];
for (const w of ws) {
  await w.call('start', { stateDir: dir, runDir: dir, sealKey, gatewayUrl: 'http://127.0.0.1:9', invokeToken: 'x', pool: { buffers: 64, bufferBytes: 4 * 1024 * 1024 } });
}
const p = await ws[0].call('sidecar', { instanceId: 'p', functionName: 'p' });
const c = await ws[process.argv[4] === 'same' ? 0 : 1].call('sidecar', { instanceId: 'c', functionName: 'c' });
const producer = sdkFor({ invocationId: 'p', functionName: 'p', sidecar: p.socketPath });
const consumer = sdkFor({ invocationId: 'c', functionName: 'c', sidecar: c.socketPath });
const raw = await startRawStreamSource();
const obj = Buffer.alloc(size, 0x5a);
// CPU time (ms) a process has used so far: under load from other processes, wall time is noisy but
// the CPU each hop costs is not
import { readFileSync } from 'node:fs';
const cpuMs = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
};
const pids = { sdk: process.pid, producerWorker: ws[0].child.pid, consumerWorker: ws[1].child.pid };
const cpu = { put: {}, get: {} };
const charge = (phase, before) => {
  for (const [k, pid] of Object.entries(pids)) cpu[phase][k] = (cpu[phase][k] ?? 0) + cpuMs(pid) - before[k];
};
const snap = () => Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid)]));
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const t = { put: [], get: [], raw: [] };
for (let i = 0; i <= iterations; i++) {
  let c0 = snap();
  let t0 = performance.now();
  const ref = await producer.put(obj, { transfer: 'xdt' });
  const put = performance.now() - t0;
  if (i > 0) charge('put', c0);
  c0 = snap();
  t0 = performance.now();
  const got = await consumer.get(ref);
  const get = performance.now() - t0;
  if (i > 0) charge('get', c0);
  if (got.length !== size) throw new Error('short get');
  t0 = performance.now();
  await raw.pull(size);
  const r = performance.now() - t0;
  if (i > 0) (t.put.push(put), t.get.push(get), t.raw.push(r));
}
const perIter = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v / iterations)]));
console.log(JSON.stringify({ sizeMB: size / 2 ** 20, putMs: med(t.put), getMs: med(t.get), rawMs: med(t.raw), cpuMsPerIteration: { put: perIter(cpu.put), get: perIter(cpu.get) } }));
await raw.close();
for (const w of ws) await w.call('stop').catch(() => {});
await fs.rm(dir, { recursive: true, force: true });
