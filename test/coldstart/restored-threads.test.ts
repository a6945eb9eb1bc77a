import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMisprediction } from '../../src/coldstart/policy.js';
import { eventually, FIXTURES, removeState, startTestPlatform, type TestPlatform } from '../platform/harness.js';
import { snapshotsUnavailable, stopInstances, workerInstanceStats } from './helpers.js';

/**
 * The Python shim serves each connection on a thread of its own, and glibc's malloc gives a new
 * thread the arena the last exited thread left, or another one when that is still held. A clone's
 * first invocation must allocate where the recorded one did whichever thread serves it: under 8
 * and more simultaneous cold starts the thread of the worker's `POST /_hivelab/restored` was still
 * alive when the invocation's thread started, the invocation grew another arena of the snapshot
 * (1254 zero pages outside the working set for json-serdes-python) and REAP declared a
 * misprediction. Here kept-alive connections hold threads while the first invocation of a
 * prefetched clone runs: more of them than the snapshot has arenas, so that the recorded one is
 * always taken, whatever order the snapshot's free arenas are in.
 */

const unavailable = await snapshotsUnavailable('REAP restored-thread tests');

/** A kept-alive connection to the shim: its thread has allocated (it read a request) and waits for the next. */
async function holdThread(socketPath: string): Promise<Socket> {
  const s = connect(socketPath);
  await once(s, 'connect');
  s.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
  await once(s, 'data');
  return s;
}

async function rssAnonKB(pid: number): Promise<number> {
  return Number(/^RssAnon:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1]);
}
const FN = 'arena-python';

describe.skipIf(unavailable !== null)('a prefetched Python clone whose first invocation meets another thread', () => {
  let tp: TestPlatform;
  const meta = async () => {
    const version = tp.platform.control.controller(FN)!.deployment.version;
    return JSON.parse(await readFile(join(tp.stateDir, 'snapshots', FN, version, 'meta.json'), 'utf8')) as { workingSet?: { wsPages: number } };
  };

  beforeAll(async () => {
    tp = await startTestPlatform({ coldStart: 'reap', workers: 1 });
    expect((await tp.deploy(join(FIXTURES, FN))).status).toBe(201);
    expect((await tp.invoke(FN, {})).status).toBe(200); // boot + snapshot
    await stopInstances(tp, FN);
    expect((await tp.invoke(FN, {})).status).toBe(200); // the record phase
    await stopInstances(tp, FN);
    expect((await meta()).workingSet?.wsPages).toBeGreaterThan(1000);
  }, 120_000);

  afterAll(async () => {
    await tp?.stop();
    if (tp) await removeState(tp.stateDir);
  }, 60_000);

  it('faults no more than the recorded invocation did: the working set is kept', async () => {
    const controller = tp.platform.control.controller(FN)!;
    // a clone started ahead of any request, so that a connection can reach it first
    const inst = controller.startInstance()!;
    await eventually(async () => inst.state === 'ready', 30_000, 'the clone to be ready');
    expect(inst.mode).toBe('reap');
    const held: Socket[] = [];
    for (let n = 0; n < 8; n++) held.push(await holdThread(inst.qp!.opts.socketPath));
    try {
      const before = await rssAnonKB(inst.pid!);
      const r = await tp.invoke(FN, {});
      expect(r.status, r.body.toString()).toBe(200);
      expect((r.json() as { instanceId: string }).instanceId).toBe(inst.id);
      // its 8 MB reuse the prefetched pages of the recorded arena: no fresh memory elsewhere (a
      // new arena the monitor never sees, or the growth of another one of the snapshot)
      const grownMB = ((await rssAnonKB(inst.pid!)) - before) / 1024;
      expect(grownMB, 'resident anonymous memory the first invocation added (MB)').toBeLessThan(4);
      const stats = await eventually(async () => {
        const s = await workerInstanceStats(tp, inst.id);
        return s?.firstServed ? s : undefined;
      }, 30_000, 'the first invocation to be judged');
      const m = stats.monitor!;
      expect(m.wsInstalled).toBe(true);
      expect(isMisprediction(m), `${m.onDemand} on-demand faults for ${m.wsPages} prefetched pages`).toBe(false);
      expect((await meta()).workingSet?.wsPages).toBe(m.wsPages);
    } finally {
      for (const s of held) s.destroy();
    }
  }, 120_000);
});
