import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { startTestPlatform, removeState, FIXTURES, eventually } from './harness.js';
import { scratchDir } from '../helpers/scratch.js';

describe('autoscaling the live platform', () => {
  it('a burst of 200 at a cold concurrency-1 function: all answered, several instances, back to zero when idle', async () => {
    const t = await startTestPlatform();
    try {
      expect((await t.deploy(join(FIXTURES, 'burst-node'))).status).toBe(201);
      const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => t.invoke('burst-node', { i, ms: 200 })));
      const statuses = replies.map((r) => r.status);
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      // Every request got its own answer.
      expect(new Set(replies.map((r) => r.json().i)).size).toBe(200);
      const instances = new Set(replies.map((r) => r.headers['x-hivelab-instance-id']));
      expect(instances.size).toBeGreaterThan(2);
      expect(instances.size).toBeLessThanOrEqual(16); // maxScale holds
      const status = (await t.api('GET', '/v1/status')).json();
      const fn = status.functions.find((f: { name: string }) => f.name === 'burst-node');
      expect(fn.policy).toBe('kpa');
      // Stable window 6 s of zero concurrency, no grace: scale to zero.
      await eventually(async () => (await t.api('GET', '/v1/functions/burst-node')).json().instances.length === 0, 60_000, 'scale to zero');
      const after = (await t.api('GET', '/v1/status')).json().functions.find((f: { name: string }) => f.name === 'burst-node');
      expect(after).toMatchObject({ ready: 0, desired: 0, queueLength: 0 });
    } finally {
      await t.stop();
      await removeState(t.stateDir);
    }
  });

  it('a worker killed mid-burst loses no request', async () => {
    const t = await startTestPlatform({ workers: 2 });
    try {
      expect((await t.deploy(join(FIXTURES, 'burst-node'))).status).toBe(201);
      const burst = Promise.all(Array.from({ length: 60 }, (_, i) => t.invoke('burst-node', { i, ms: 600 })));
      // Wait until both workers hold running instances, then kill one of them.
      const victim = await eventually(async () => {
        const s = (await t.api('GET', '/v1/status')).json();
        const busy = s.workers.filter((w: { instances: unknown[] }) => w.instances.length > 0);
        return busy.length === 2 ? (busy[0].id as string) : undefined;
      }, 30_000, 'instances on both workers');
      t.platform.control.workers.find((w) => w.id === victim)!.kill();
      const replies = await burst;
      expect(replies.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
      expect(new Set(replies.map((r) => r.json().i)).size).toBe(60);
      // The dead worker is replaced.
      await eventually(async () => {
        const s = (await t.api('GET', '/v1/status')).json();
        return s.workers.length === 2 && s.workers.every((w: { alive: boolean }) => w.alive);
      }, 30_000, 'the worker to be replaced');
      expect((await t.invoke('burst-node', { i: -1, ms: 1 })).status).toBe(200);
    } finally {
      await t.stop();
      await removeState(t.stateDir);
    }
  });

  it('refuses an unknown scaling policy or contradictory bounds at deploy, naming the field', async () => {
    const { writeFile } = await import('node:fs/promises');
    const t = await startTestPlatform();
    try {
      const dir = await scratchDir('hivelab-scaling-');
      await writeFile(join(dir, 'index.mjs'), 'export async function handler() { return 1; }');
      await writeFile(join(dir, 'function.json'), JSON.stringify({ name: 'bad-scale', runtime: 'node', handler: 'index.handler', scaling: { policy: 'magic' } }));
      const r = await t.deploy(dir);
      expect(r.status).toBe(400);
      expect(r.json().error.field).toBe('scaling.policy');
      await writeFile(join(dir, 'function.json'), JSON.stringify({ name: 'bad-scale', runtime: 'node', handler: 'index.handler', scaling: { minScale: 5, maxScale: 2 } }));
      const r2 = await t.deploy(dir);
      expect(r2.status).toBe(400);
      expect(r2.json().error.message).toMatch(/minScale 5 exceeds maxScale 2/);
    } finally {
      await t.stop();
      await removeState(t.stateDir);
    }
  });
});
