import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { startTestPlatform, removeState, FIXTURES, eventually } from './harness.js';

/**
 * Overload behaviour (issue 18): many cold starts at once on one worker run at most `maxStarting`
 * at a time, the rest wait their turn, and every request still gets its answer; the control plane
 * keeps a function's starts in progress in proportion to its ready instances; a function whose
 * starts fail backs off instead of retrying at every tick.
 */
describe('cold-start admission on the live platform', () => {
  it('a cold burst on one worker with --max-starting 1: one start at a time, the rest queued, every request answered', async () => {
    const t = await startTestPlatform({ workers: 1, maxStarting: 1 });
    try {
      expect((await t.deploy(join(FIXTURES, 'burst-node'))).status).toBe(201);
      const controller = t.platform.control.controller('burst-node')!;
      // The control plane's own count of this function's starts in progress, seen at every turn of
      // the event loop while the burst runs (decisions are synchronous, so no moment is missed
      // that matters: a start is only ever added inside one).
      let maxStartingSeen = 0;
      let bursting = true;
      const overCap: string[] = [];
      const phasesSeen = new Map<string, { name: string; startEpochMs: number; endEpochMs: number }[]>();
      const sampler = setInterval(() => {
        const starting = controller.instances.filter((i) => i.state === 'starting').length;
        const ready = controller.instances.filter((i) => i.state === 'ready' || i.state === 'busy').length;
        maxStartingSeen = Math.max(maxStartingSeen, starting);
        // while the burst grows the function (no instance stops meanwhile), starts ≤ max(4, ready)
        if (bursting && starting > Math.max(4, ready)) overCap.push(`${starting} starting with ${ready} ready`);
        for (const i of controller.instances) if (i.phases) phasesSeen.set(i.id, i.phases);
      }, 2);
      const replies = await Promise.all(Array.from({ length: 24 }, (_, i) => t.invoke('burst-node', { i, ms: 300 })));
      bursting = false;
      expect(replies.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
      expect(new Set(replies.map((r) => r.json().i)).size).toBe(24);
      // starts the autoscaler asked for during the burst may still be under way: let them finish
      const starts = await eventually(async () => {
        const s = (await t.api('GET', '/v1/status')).json().workers[0].starts;
        return s.running === 0 && s.waiting === 0 ? s : undefined;
      }, 60_000, 'the starts to finish');
      clearInterval(sampler);
      for (const i of controller.instances) if (i.phases) phasesSeen.set(i.id, i.phases);
      // never more than one start running on the worker
      expect(starts.limit).toBe(1);
      expect(starts.peakRunning).toBe(1);
      // the control plane grew the function in rounds: at most 4 starting while fewer than 4 were ready
      expect(maxStartingSeen).toBeGreaterThan(1);
      expect(overCap).toEqual([]);
      // every start reports its wait for a slot as its first phase; with several started together on
      // one slot, at least one of them waited for another to finish
      expect(phasesSeen.size).toBeGreaterThan(1);
      const queues = [...phasesSeen.values()].map((p) => p[0]!);
      for (const q of queues) expect(q.name).toBe('coldstart.queue');
      expect(queues.some((q) => q.endEpochMs > q.startEpochMs)).toBe(true);
      // and the admitted parts of the starts (after the queue) never overlapped: one slot
      const admitted = [...phasesSeen.values()]
        .map((p) => ({ from: p[0]!.endEpochMs, to: Math.max(...p.map((x) => x.endEpochMs)) }))
        .sort((a, b) => a.from - b.from);
      for (let k = 1; k < admitted.length; k++) expect(admitted[k]!.from).toBeGreaterThanOrEqual(admitted[k - 1]!.to - 1);
    } finally {
      await t.stop();
      await removeState(t.stateDir);
    }
  }, 180_000);

  it('deleting a function takes its starts still waiting for a slot out of the queue: they never run', async () => {
    // a function whose runtime takes a while to load (top-level await), so starts pile up behind one slot
    const fnDir = await mkdtemp(join(tmpdir(), 'hivelab-slow-start-'));
    await writeFile(
      join(fnDir, 'function.json'),
      JSON.stringify({ name: 'slow-start-node', runtime: 'node', handler: 'index.handler', memoryMB: 128, concurrency: 1, timeoutMs: 60000, scaling: { initialScale: 0 } }),
    );
    await writeFile(join(fnDir, 'index.mjs'), 'await new Promise((r) => setTimeout(r, 1500));\nexport async function handler() { return { ok: true }; }\n');
    const t = await startTestPlatform({ workers: 1, maxStarting: 1 });
    try {
      expect((await t.deploy(fnDir)).status).toBe(201);
      const replies = Promise.all(Array.from({ length: 6 }, () => t.invoke('slow-start-node', {})));
      await eventually(async () => (await t.api('GET', '/v1/status')).json().workers[0].starts.waiting >= 1, 60_000, 'a start queued');
      const wanted = t.platform.control.controller('slow-start-node')!.instances.map((i) => i.id);
      expect((await t.api('DELETE', '/v1/functions/slow-start-node')).status).toBe(200);
      // every request ends with the deletion or an answer, none hangs
      for (const r of await replies) expect([200, 410]).toContain(r.status);
      await eventually(async () => {
        const s = (await t.api('GET', '/v1/status')).json().workers[0].starts;
        return s.running === 0 && s.waiting === 0;
      }, 60_000, 'the queue to empty');
      // a start that ran left its instance log; the cancelled ones never reached the sandbox
      const logs = await readdir(join(t.stateDir, 'logs', 'slow-start-node')).catch(() => [] as string[]);
      const ran = wanted.filter((id) => logs.includes(`${id}.log`));
      expect(wanted.length).toBeGreaterThan(1);
      expect(ran.length).toBeGreaterThanOrEqual(1);
      expect(ran.length).toBeLessThan(wanted.length);
    } finally {
      await t.stop();
      await removeState(t.stateDir);
      await rm(fnDir, { recursive: true, force: true });
    }
  }, 180_000);

  it('a function whose instances cannot start backs off (shown in status) and still answers each request with the reason', async () => {
    const t = await startTestPlatform({ workers: 1 });
    try {
      expect((await t.deploy(join(FIXTURES, 'bad-import-node'))).status).toBe(201);
      const first = await t.invoke('bad-import-node', {});
      expect(first.status).toBe(502);
      expect(first.json().error.type).toBe('InstanceStartFailed');
      const fn = (await t.api('GET', '/v1/status')).json().functions.find((f: { name: string }) => f.name === 'bad-import-node');
      expect(fn.startBackoff.failures).toBe(1);
      // a request arriving during the back-off waits for it to end, then gets the next attempt's answer
      const second = await t.invoke('bad-import-node', {});
      expect(second.status).toBe(502);
      expect(JSON.stringify(second.json())).toContain('a-package-that-does-not-exist');
      const after = (await t.api('GET', '/v1/status')).json().functions.find((f: { name: string }) => f.name === 'bad-import-node');
      expect(after.startBackoff.failures).toBe(2);
    } finally {
      await t.stop();
      await removeState(t.stateDir);
    }
  }, 120_000);
});
