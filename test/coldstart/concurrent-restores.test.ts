import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, removeState, startTestPlatform, type TestPlatform } from '../platform/harness.js';
import { instanceRecord, snapshotsUnavailable, stopInstances } from './helpers.js';

/**
 * Simultaneous cold starts from one snapshot: each takes a CRIU kept ready or has one made for it,
 * and none may get one that is not set up yet (a claim renames the clone's socket at once: a
 * relay still starting has not bound it). Every start must restore; none falls back to boot.
 */

const unavailable = await snapshotsUnavailable('concurrent restore tests');

describe.skipIf(unavailable !== null)('simultaneous restores in one worker', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await startTestPlatform({ coldStart: 'snapshot', workers: 1 });
    expect((await tp.deploy(join(FIXTURES, 'snap-node'))).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await tp?.stop();
    if (tp) await removeState(tp.stateDir);
  }, 60_000);

  it('four cold starts at once all restore, each its own clone with the snapshot state', async () => {
    const first = await tp.invoke('snap-node', {});
    expect(first.status).toBe(200);
    const booted = first.json() as { initDigest: string; instanceId: string };
    expect(instanceRecord(tp, 'snap-node', booted.instanceId)?.mode).toBe('boot'); // made the snapshot
    for (let round = 0; round < 2; round++) {
      await stopInstances(tp, 'snap-node');
      // each busy for a while, so every request needs an instance of its own; their records go
      // once they are done (keep-alive 0), so their modes are noted while they serve
      const modes = new Map<string, string>();
      const controller = tp.platform.control.controller('snap-node')!;
      const sampler = setInterval(() => {
        for (const i of controller.instances) if (i.mode) modes.set(i.id, i.mode);
      }, 10);
      const replies = await Promise.all([0, 1, 2, 3].map(() => tp.invoke('snap-node', { sleepMs: 1500 })));
      clearInterval(sampler);
      const answers = replies.map((r) => {
        expect(r.status, r.body.toString()).toBe(200);
        return r.json() as { initDigest: string; instanceId: string };
      });
      const ids = new Set(answers.map((a) => a.instanceId));
      expect(ids.size).toBeGreaterThan(1);
      for (const id of ids) expect(modes.get(id), id).toBe('snapshot');
      for (const a of answers) expect(a.initDigest).toBe(booted.initDigest);
    }
  }, 180_000);
});
