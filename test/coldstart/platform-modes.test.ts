import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, FIXTURES, removeState, startTestPlatform, type TestPlatform } from '../platform/harness.js';
import { InstanceCgroup } from '../../src/sandbox/cgroup.js';
import { instanceRecord, monitorPids, snapshotsUnavailable, stopInstances, workerInstanceStats } from './helpers.js';
import { isRunning as alive } from '../helpers/process.js';

/**
 * Snapshot cold starts through a real platform (control plane, worker process, real CRIU, the real
 * REAP monitor and userfaultfd). Each cold start is forced by stopping the function's instances.
 */

const unavailable = await snapshotsUnavailable('snapshot cold-start platform tests');

interface Answer {
  calls: number;
  digest: string;
  initDigest: string;
  uuid?: string;
  random: number;
  instanceId: string;
}

async function coldInvoke(tp: TestPlatform, fn: string, body: unknown = {}): Promise<{ a: Answer; mode: string }> {
  await stopInstances(tp, fn);
  const r = await tp.invoke(fn, body);
  expect(r.status, r.body.toString()).toBe(200);
  const a = r.json() as Answer;
  return { a, mode: instanceRecord(tp, fn, a.instanceId)?.mode ?? '?' };
}

describe.skipIf(unavailable !== null)('snapshot cold starts in the live platform', () => {
  let tp: TestPlatform;

  beforeAll(async () => {
    tp = await startTestPlatform({ coldStart: 'reap', workers: 1 });
    for (const fn of ['snap-node', 'snap-python']) expect((await tp.deploy(join(FIXTURES, fn))).status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await tp?.stop();
    if (tp) await removeState(tp.stateDir);
  }, 60_000);

  for (const fn of ['snap-node', 'snap-python']) {
    it(`${fn}: boot+snapshot, record, then prefetch behave like the booted instance`, async () => {
      const booted = await coldInvoke(tp, fn, { n: 1 });
      expect(booted.mode).toBe('boot'); // the first cold start boots and makes the snapshot
      const version = tp.platform.control.controller(fn)!.deployment.version;
      const meta = JSON.parse(await readFile(join(tp.stateDir, 'snapshots', fn, version, 'meta.json'), 'utf8'));
      expect(meta.criuVersion).toMatch(/^\d/);
      expect(meta.runtimeVersion).toBeTruthy();
      expect(Object.keys(meta.files).length).toBeGreaterThan(3);

      const recorded = await coldInvoke(tp, fn, { n: 1 });
      expect(recorded.mode).toBe('reap');
      const withWs = JSON.parse(await readFile(join(tp.stateDir, 'snapshots', fn, version, 'meta.json'), 'utf8'));
      expect(withWs.workingSet.wsPages).toBeGreaterThan(1000); // the fixture's table is 16–24 MB

      const prefetched = await coldInvoke(tp, fn, { n: 1 });
      expect(prefetched.mode).toBe('reap');
      const stats = await workerInstanceStats(tp, prefetched.a.instanceId);
      expect(stats?.monitor?.wsInstalled).toBe(true);
      expect(stats!.monitor!.prefetched).toBeGreaterThan(0.9 * withWs.workingSet.wsPages);
      expect(stats!.monitor!.onDemand).toBeLessThan(0.3 * withWs.workingSet.wsPages);
      // The prefetched working set counts against the instance's memory limit.
      const charged = Number(await readFile(join(InstanceCgroup.of(prefetched.a.instanceId).dir('memory'), 'memory.usage_in_bytes'), 'utf8'));
      expect(charged).toBeGreaterThan(0.9 * withWs.workingSet.wsPages * 4096);

      // Same state and responses as the booted instance: init-time data intact, one warm-up before.
      for (const x of [recorded, prefetched]) {
        expect(x.a.initDigest).toBe(booted.a.initDigest);
        expect(x.a.digest).toBe(booted.a.digest);
      }
      expect(prefetched.a.calls).toBe(booted.a.calls); // snapshot taken after the warm-up, like the booted one
      // each clone adopted its own instance id
      expect(new Set([booted.a.instanceId, recorded.a.instanceId, prefetched.a.instanceId]).size).toBe(3);
    }, 180_000);
  }

  it('instances restored from one snapshot draw different random numbers (Node and Python)', async () => {
    for (const fn of ['snap-node', 'snap-python']) {
      const one = await coldInvoke(tp, fn);
      const two = await coldInvoke(tp, fn);
      expect(one.mode).toBe('reap');
      expect(two.mode).toBe('reap');
      expect(one.a.random).not.toBe(two.a.random);
      if (fn === 'snap-node') expect(one.a.uuid).not.toBe(two.a.uuid);
    }
  }, 180_000);

  it('a corrupted working-set file is never used: the request succeeds, served lazily, and the next start re-records', async () => {
    const fn = 'snap-node';
    await coldInvoke(tp, fn); // make sure snapshot and working set exist
    const version = tp.platform.control.controller(fn)!.deployment.version;
    const dir = join(tp.stateDir, 'snapshots', fn, version);
    let meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8'));
    if (!meta.workingSet) await coldInvoke(tp, fn);
    const fh = await open(join(dir, 'ws.bin'), 'r+');
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 8192);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, 8192);
    await fh.close();

    const served = await coldInvoke(tp, fn);
    expect(served.mode).toBe('reap');
    const stats = await workerInstanceStats(tp, served.a.instanceId);
    expect(stats?.monitor?.wsInstalled).toBe(false);
    expect(stats?.monitor?.prefetched).toBe(0);
    meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8'));
    expect(meta.workingSet).toBeUndefined(); // dropped: the next cold start records again
    await coldInvoke(tp, fn);
    meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8'));
    expect(meta.workingSet.wsPages).toBeGreaterThan(1000);
  }, 180_000);
});

describe.skipIf(unavailable !== null)('REAP monitor death in the live platform', () => {
  let tp: TestPlatform;

  beforeAll(async () => {
    tp = await startTestPlatform({ coldStart: 'lazy', workers: 1 });
    expect((await tp.deploy(join(FIXTURES, 'snap-node'))).status).toBe(201);
    await tp.invoke('snap-node', {}); // boot + snapshot
  }, 60_000);

  afterAll(async () => {
    await tp?.stop();
    if (tp) await removeState(tp.stateDir);
  }, 60_000);

  it('a killed monitor does not hang the request: the instance dies and the request is retried on a booted one', async () => {
    const fn = 'snap-node';
    await stopInstances(tp, fn);
    const c = tp.platform.control.controller(fn)!;
    // The handler sleeps, then reads its table: pages the dead monitor would have had to serve.
    const reply = tp.invoke(fn, { sleepMs: 1500 });
    let victim: string | undefined;
    for (let i = 0; i < 400 && !victim; i++) {
      victim = c.instances.find((x) => x.state === 'busy' && x.mode === 'lazy')?.id;
      if (!victim) await new Promise((r) => setTimeout(r, 25));
    }
    expect(victim).toBeDefined();
    const pids = await monitorPids(victim!);
    expect(pids.length).toBe(1);
    process.kill(pids[0]!, 'SIGKILL');
    const r = await reply;
    expect(r.status, r.body.toString()).toBe(200);
    const a = r.json() as Answer;
    expect(a.instanceId).not.toBe(victim);
    expect(instanceRecord(tp, fn, a.instanceId)?.mode).toBe('boot');
  }, 120_000);
});

describe.skipIf(unavailable !== null)('a worker that dies', () => {
  it('takes its restored instances with it (they are not its children: they outlive their CRIU relay)', async () => {
    const tp = await startTestPlatform({ coldStart: 'snapshot', workers: 1 });
    try {
      expect((await tp.deploy(join(FIXTURES, 'snap-python'))).status).toBe(201);
      expect((await coldInvoke(tp, 'snap-python')).mode).toBe('boot'); // makes the snapshot
      const restored = await coldInvoke(tp, 'snap-python');
      expect(restored.mode).toBe('snapshot');
      const pid = instanceRecord(tp, 'snap-python', restored.a.instanceId)?.pid;
      expect(pid).toBeGreaterThan(0);
      expect(alive(pid!)).toBe(true);
      process.kill(tp.platform.control.workers[0]!.pid!, 'SIGKILL');
      await eventually(async () => !alive(pid!), 20_000, "the dead worker's instance to be gone");
    } finally {
      await tp.stop();
      await removeState(tp.stateDir);
    }
  }, 120_000);
});

describe.skipIf(unavailable !== null)('eager snapshot, lazy and criu-lazy cold starts in the live platform', () => {
  for (const mode of ['snapshot', 'lazy', 'criu-lazy'] as const) {
    it(`${mode}: a restored instance answers like the booted one and reports its mode`, async () => {
      const tp = await startTestPlatform({ coldStart: mode, workers: 1 });
      try {
        expect((await tp.deploy(join(FIXTURES, 'snap-python'))).status).toBe(201);
        const booted = await coldInvoke(tp, 'snap-python', { loopback: true });
        expect(booted.mode).toBe('boot');
        expect((booted.a as Answer & { loopback?: string }).loopback).toBe('ok');
        const restored = await coldInvoke(tp, 'snap-python', { loopback: true });
        expect(restored.mode).toBe(mode);
        // a clone's netns is a fresh one made ahead by the worker, loopback up (docs/SANDBOX.md, Restores)
        expect((restored.a as Answer & { loopback?: string }).loopback).toBe('ok');
        expect(restored.a.digest).toBe(booted.a.digest);
        expect(restored.a.calls).toBe(booted.a.calls);
        expect(restored.a.instanceId).not.toBe(booted.a.instanceId);
        const stats = await workerInstanceStats(tp, restored.a.instanceId);
        expect(stats?.memoryBytes).toBeGreaterThan(0);
        // The restored 16 MB table (read by every invocation) counts against the instance's memory
        // limit, whoever brought its pages in: CRIU itself (eager), our monitor or CRIU's daemon.
        const charged = Number(await readFile(join(InstanceCgroup.of(restored.a.instanceId).dir('memory'), 'memory.usage_in_bytes'), 'utf8'));
        expect(charged).toBeGreaterThan(16 * 1024 * 1024);
        if (mode === 'lazy') expect(stats?.monitor?.onDemand).toBeGreaterThan(1000);
      } finally {
        await tp.stop();
        await removeState(tp.stateDir);
      }
    }, 120_000);
  }
});
