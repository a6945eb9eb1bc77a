/**
 * A killed worker loses nothing the gateway accepted (issue 18): with a single worker, `kill -9`
 * during a burst left no live worker for about a second and the activator answered 503 "no live
 * workers" to everything buffered or in flight. Now the requests wait for the replacement (Knative's
 * activator holds requests while capacity comes back) and are served within their deadline.
 */
import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { startTestPlatform, removeState, FIXTURES, eventually } from '../platform/harness.js';

describe('the only worker killed mid-burst', () => {
  it('every accepted request is re-dispatched onto the replacement worker', async () => {
    const t = await startTestPlatform({ workers: 1 });
    try {
      expect((await t.deploy(join(FIXTURES, 'burst-node'))).status).toBe(201);
      const first = Array.from({ length: 24 }, (_, i) => t.invoke('burst-node', { i, ms: 1500 }));
      const worker = t.platform.control.workers[0]!;
      const oldPid = worker.pid;
      await eventually(async () => t.platform.control.controller('burst-node')!.instances.some((i) => i.inFlight > 0), 30_000, 'requests in flight');
      worker.kill();
      // the gap: no live worker at all; these arrive while the replacement is being started
      await eventually(async () => !t.platform.control.workers[0]!.alive, 10_000, 'the worker to be seen dead');
      const during = Array.from({ length: 12 }, (_, i) => t.invoke('burst-node', { i: 100 + i, ms: 200 }));
      const replies = await Promise.all([...first, ...during]);
      const failed = replies.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.body.toString().slice(0, 120)}`);
      expect(failed).toEqual([]);
      expect(new Set(replies.map((r) => r.json().i)).size).toBe(36);
      expect(t.platform.control.workers[0]!.alive).toBe(true);
      expect(t.platform.control.workers[0]!.pid).not.toBe(oldPid);
    } finally {
      await t.stop();
      await removeState(t.stateDir);
    }
  }, 120_000);
});
