import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { removeState, startTestPlatform, type TestPlatform } from '../platform/harness.js';
import { instanceRecord, snapshotsUnavailable, stopInstances, workerInstanceStats } from '../coldstart/helpers.js';
import { isMisprediction } from '../../src/coldstart/policy.js';
import { greeterClient, unary } from './helpers.js';

/**
 * vSwarm's fibonacci (Python, gRPC) in the snapshot modes. Its instance is two processes (the port
 * bridge and the server) and speaks h2c only: the first snapshot waits for the bridge to accept (not
 * `GET /healthz`), its warm-up is the folder's `sample-input.grpc.json` call (SayHello over h2c, not
 * an HTTP POST), and a clone is ready when its bridge accepts. Each later cold start must stay in
 * its mode and answer; REAP's prefetch, recorded from that sample call, must not mispredict.
 */

const VSWARM = resolve(import.meta.dirname, '../../examples/vswarm');
const MODES = ['snapshot', 'lazy', 'reap'] as const;
const unavailable = await snapshotsUnavailable('gRPC snapshot-mode tests');

let t: TestPlatform;
let work: string;
let target: string;
let auth: Record<string, string>;
const clients: grpc.Client[] = [];

beforeAll(async () => {
  if (unavailable) return;
  work = mkdtempSync(join(tmpdir(), 'hivelab-grpc-snap-'));
  t = await startTestPlatform({ workers: 1 });
  target = new URL(t.platform.url).host;
  auth = { authorization: `Bearer ${t.platform.tokens.invoke}` };
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await t?.stop();
  if (t) await removeState(t.stateDir);
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

describe.skipIf(unavailable !== null).each(MODES)("vSwarm's fibonacci-python in cold-start mode %s", (mode) => {
  const name = `fib-${mode}`;

  test('boots and is dumped, then every cold start restores in its mode and answers', async () => {
    const dir = join(work, name);
    cpSync(join(VSWARM, 'fibonacci-python'), dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'function.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'function.json'), JSON.stringify({ ...manifest, name, coldStart: mode, scaling: { maxScale: 1 } }));
    const d = await t.deploy(dir);
    expect(d.status, d.body.toString()).toBe(201);
    const c = greeterClient(target, `${name}.default.127.0.0.1.sslip.io:80`, 'fibonacci', 'Greeter');
    clients.push(c);
    const call = async (fresh: boolean, x: string) => {
      if (fresh) await stopInstances(t, name);
      const r = await unary(c, 'SayHello', { name: x }, auth);
      expect(r.err?.details).toBeUndefined();
      return { message: r.reply!.message, id: r.headers['x-hivelab-instance-id']!, mode: instanceRecord(t, name, r.headers['x-hivelab-instance-id']!)?.mode };
    };
    const booted = await call(false, '10'); // the deploy's instance: booted, warmed up, dumped
    expect(booted).toMatchObject({ message: 'fn: Fib: y = fib(x) | x: 10 y: 55 | runtime: python', mode: 'boot' });
    const version = t.platform.control.controller(name)!.deployment.version;
    expect(JSON.parse(readFileSync(join(t.stateDir, 'snapshots', name, version, 'meta.json'), 'utf8')).pagesFiles.length).toBe(2);
    // reap: the record phase, then the prefetch
    for (const x of mode === 'reap' ? ['20', '30'] : ['20']) {
      const restored = await call(true, x);
      expect(restored.mode).toBe(mode);
      expect(restored.message).toMatch(new RegExp(`^fn: Fib: y = fib\\(x\\) \\| x: ${x} y: \\d+ \\| runtime: python$`));
      if (mode === 'reap' && x === '30') {
        const monitor = (await workerInstanceStats(t, restored.id))?.monitor;
        expect(monitor?.wsInstalled).toBe(true);
        expect(isMisprediction(monitor!), JSON.stringify(monitor)).toBe(false);
      }
    }
  }, 300_000);
});
