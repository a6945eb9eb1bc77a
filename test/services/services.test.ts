/**
 * The embedded data services: start with readiness checks on loopback, keep their data under the
 * state folder, report a crash they did not ask for, and stop cleanly.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startServices, type Services, ServiceCrashedError } from '../../src/services/index.js';
import { startRedis } from '../../src/services/redis.js';
import { onFreePort } from '../../src/services/free-port.js';
import { startManagedProcess } from '../../src/services/managed-process.js';
import net from 'node:net';
import { StorageTransport } from '../../src/transfer/storage.js';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { openObject } from '../../src/xdt/sidecar/objects.js';
import { openReference } from '../../src/transfer/reference.js';
import { MemoryLedger } from '../../src/transfer/retrieval-ledger.js';

let dir = '';
let services: Services;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hivelab-services-'));
  services = await startServices({ stateDir: dir });
});
afterAll(async () => {
  await services?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

it('redis answers only with its password, on 127.0.0.1', async () => {
  expect(services.redis.host).toBe('127.0.0.1');
  const anon = new Redis({ host: services.redis.host, port: services.redis.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  anon.on('error', () => {});
  await expect(anon.set('k', 'v')).rejects.toThrow(/NOAUTH|Authentication/i);
  anon.disconnect();
  const ok = new Redis({ host: services.redis.host, port: services.redis.port, password: services.redis.password, lazyConnect: true });
  expect(await ok.ping()).toBe('PONG');
  ok.disconnect();
});

it('s3rver stores objects under <state>/s3', async () => {
  const t = new StorageTransport(services.s3.config);
  const key = randomBytes(32);
  const data = randomBytes(12345);
  const ref = await t.put(key, { body: Readable.from([data]), size: data.length, contentType: 'application/octet-stream' }, 1, 60_000);
  const payload = openReference(key, ref);
  expect(payload.t).toBe('storage');
  const files = await fs.readdir(path.join(dir, 's3'), { recursive: true });
  expect(files.some((f) => String(f).includes('hivelab'))).toBe(true);
  const out = await openObject({ sealKey: key, storage: t, ledger: new MemoryLedger() } as never, ref);
  const chunks: Buffer[] = [];
  for await (const c of out.body as Readable) chunks.push(c as Buffer);
  expect(Buffer.concat(chunks).equals(data)).toBe(true);
  t.close();
});

it('a redis-server that dies is reported as crashed, and restarted', async () => {
  let reported: Error | undefined;
  const r = await startRedis({ stateDir: dir, onCrash: (e) => (reported = e) });
  const firstPid = r.status().pid;
  const client = new Redis({ host: r.host, port: r.port, password: r.password, lazyConnect: true, maxRetriesPerRequest: 0 });
  client.on('error', () => {});
  // SHUTDOWN NOSAVE: the server exits although nobody called stop()
  await client.call('SHUTDOWN', 'NOSAVE').catch(() => {});
  client.disconnect();
  for (let i = 0; i < 200 && !reported; i++) await new Promise((res) => setTimeout(res, 50));
  expect(reported).toBeInstanceOf(ServiceCrashedError);
  for (let i = 0; i < 400 && r.status().restarts === 0; i++) await new Promise((res) => setTimeout(res, 50));
  expect(r.status()).toMatchObject({ state: 'running', restarts: 1 });
  expect(r.status().pid).not.toBe(firstPid);
  expect(r.crashed).toBe(false);
  const again = new Redis({ host: r.host, port: r.port, password: r.password, lazyConnect: true });
  expect(await again.ping()).toBe('PONG');
  again.disconnect();
  await r.stop();
  expect(r.status().state).toBe('stopped');
});

it('a service that cannot start fails with its reason instead of hanging', async () => {
  await expect(startRedis({ stateDir: dir, binary: '/bin/false' })).rejects.toBeInstanceOf(ServiceCrashedError);
});

it('a port taken between its pick and the bind moves the start to a fresh port', async () => {
  const thief = net.createServer();
  const tried: number[] = [];
  const server = await onFreePort(async (port) => {
    tried.push(port);
    if (tried.length === 1) await new Promise<void>((r) => thief.listen(port, '127.0.0.1', () => r()));
    const srv = net.createServer();
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => resolve());
    });
    return srv;
  });
  try {
    expect(tried).toHaveLength(2);
    expect((server.address() as net.AddressInfo).port).toBe(tried[1]);
  } finally {
    server.close();
    thief.close();
  }
});

it('another server answering on the port does not make a service ready: only its own ready line does', async () => {
  // the probe passes (as if whoever took the port answered) but the child never says it is ready
  const start = startManagedProcess({
    name: 'silent',
    command: process.execPath,
    args: ['-e', 'setTimeout(() => {}, 60000)'],
    readyLine: 'ready',
    probe: async () => true,
    readyTimeoutMs: 500,
  });
  await expect(start).rejects.toThrow(/silent crashed: not ready after 500 ms/);
});

it('a platform killed with SIGKILL takes its services with it (a parent-death signal)', async () => {
  // the platform's stand-in: a process that starts one managed service and is then killed outright
  const script = `
    const { startManagedProcess } = await import(${JSON.stringify(path.resolve(import.meta.dirname, '../../dist/services/managed-process.js'))});
    const svc = await startManagedProcess({ name: 'doomed', command: '/bin/sleep', args: ['87671'], probe: async () => true });
    process.stdout.write(svc.child.pid + '\\n');
    setInterval(() => {}, 1 << 30);
  `;
  const { spawn } = await import('node:child_process');
  const parent = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = await new Promise<number>((resolve, reject) => {
    parent.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    parent.once('exit', () => reject(new Error('the stand-in platform exited early')));
  });
  const alive = async () => (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes('87671');
  expect(await alive()).toBe(true);
  parent.kill('SIGKILL');
  await expect.poll(alive, { timeout: 10_000 }).toBe(false);
}, 30_000);
