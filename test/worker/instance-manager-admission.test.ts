import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InstanceManager } from '../../src/worker/instance-manager.js';
import type { ColdStart, ColdStarter } from '../../src/coldstart/start.js';
import type { ExitInfo, InstanceSpec, SandboxInstance } from '../../src/sandbox/backend.js';
import type { StartRequest } from '../../src/worker/protocol.js';
import { parseManifest } from '../../src/manifest/validate.js';

/**
 * The instance manager's side of cold-start admission, with a cold starter whose starts finish when
 * the test says so (the sandboxes themselves are covered by test/platform/start-admission.test.ts):
 * how many starts the starter sees at once, a stop of a queued start, and the deadline.
 */
class HeldStarter implements ColdStarter {
  readonly inProgress = new Map<string, { finish(): void; fail(e: Error): void }>();
  peak = 0;
  start(spec: InstanceSpec): Promise<ColdStart> {
    return new Promise((resolve, reject) => {
      this.inProgress.set(spec.instanceId, {
        finish: () => {
          this.inProgress.delete(spec.instanceId);
          resolve({ instance: fakeInstance(spec.instanceId), mode: 'boot', phases: [{ name: 'coldstart.sandbox.start', startEpochMs: 1, endEpochMs: 2 }] });
        },
        fail: (e) => {
          this.inProgress.delete(spec.instanceId);
          reject(e);
        },
      });
      this.peak = Math.max(this.peak, this.inProgress.size);
    });
  }
}

function fakeInstance(instanceId: string): SandboxInstance {
  let settle!: (i: ExitInfo) => void;
  const exited = new Promise<ExitInfo>((r) => (settle = r));
  return {
    instanceId,
    socketPath: `/nonexistent/${instanceId}.sock`,
    pid: 0,
    timings: { startMs: 1 },
    exited,
    memoryUsage: async () => 0,
    stop: async () => {
      const info: ExitInfo = { reason: 'stopped', code: 0, signal: null };
      settle(info);
      return info;
    },
  };
}

const manifest = parseManifest({ name: 'fn', runtime: 'node', handler: 'index.handler', memoryMB: 128 });
const request = (instanceId: string): StartRequest => ({ op: 'start', reqId: 0, instanceId, functionName: 'fn', version: 'v1', functionDir: '/nonexistent', manifest, coldStart: 'boot' });
const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error('condition never held');
};

describe('InstanceManager with cold-start admission', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hivelab-admission-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('hands the starter at most maxStarting starts at once; queued starts hold their memory; each reports its queue phase', async () => {
    const starter = new HeldStarter();
    const m = new InstanceManager(starter, { workerId: 'w', runRoot: join(dir, 'run'), logRoot: join(dir, 'logs'), memoryBudgetMB: 1024, maxStarting: 2 }, () => {});
    const starts = ['a', 'b', 'c', 'd', 'e'].map((id) => m.start(request(id)));
    await until(() => starter.inProgress.size === 2);
    const s = await m.stats();
    expect(s.starts).toMatchObject({ limit: 2, running: 2, waiting: 3 });
    expect(s.memoryCommittedMB).toBe(5 * 128);
    // finish them one by one, as the starter would: never more than two at once
    while (starter.inProgress.size > 0) [...starter.inProgress.values()][0]!.finish(), await new Promise((r) => setTimeout(r, 5));
    const done = await Promise.all(starts);
    expect(starter.peak).toBe(2);
    for (const d of done) expect(d.phases[0]).toMatchObject({ name: 'coldstart.queue', attributes: { 'hivelab.coldstart.slots': 2 } });
    expect((await m.stats()).starts).toMatchObject({ running: 0, waiting: 0, peakRunning: 2 });
    await m.stopAll();
  });

  it('a stop of a start still queued takes it out at once (StartCancelled) and gives its memory back', async () => {
    const starter = new HeldStarter();
    const m = new InstanceManager(starter, { workerId: 'w', runRoot: join(dir, 'run'), logRoot: join(dir, 'logs'), memoryBudgetMB: 1024, maxStarting: 1 }, () => {});
    const running = m.start(request('running'));
    const queued = m.start(request('queued'));
    const queuedOutcome = queued.catch((e: Error & { type?: string }) => e);
    await until(() => starter.inProgress.size === 1);
    expect(await m.stop('queued')).toBeUndefined();
    const err = (await queuedOutcome) as Error & { type?: string };
    expect(err.type).toBe('StartCancelled');
    expect((await m.stats()).memoryCommittedMB).toBe(128);
    starter.inProgress.get('running')!.finish();
    await running;
    expect(starter.peak).toBe(1);
    expect([...starter.inProgress.keys()]).toEqual([]); // the cancelled start never reached the starter
    await m.stopAll();
  });

  it('the queue wait counts against the start deadline: a start admitted too late fails StartTimeout', async () => {
    const starter = new HeldStarter();
    const m = new InstanceManager(
      starter,
      { workerId: 'w', runRoot: join(dir, 'run'), logRoot: join(dir, 'logs'), memoryBudgetMB: 1024, maxStarting: 1, startTimeoutMs: () => 200 },
      () => {},
    );
    const first = m.start(request('first')).catch((e: Error & { type?: string }) => e);
    const second = m.start(request('second')).catch((e: Error & { type?: string }) => e);
    // neither finishes: the first misses its deadline while starting, the second while queued
    expect(((await first) as { type?: string }).type).toBe('StartTimeout');
    const e2 = (await second) as Error & { type?: string };
    expect(e2.type).toBe('StartTimeout');
    expect(e2.message).toMatch(/waited \d+ ms for one of this worker's 1 start slot/);
    // the first start still holds the slot until the starter is done with it; then it is stopped
    expect((await m.stats()).starts).toMatchObject({ running: 1, waiting: 0 });
    starter.inProgress.get('first')!.finish();
    let s = await m.stats();
    for (let i = 0; i < 1000 && (s.starts.running > 0 || s.instances.length > 0); i++) {
      await new Promise((r) => setTimeout(r, 5));
      s = await m.stats();
    }
    expect(s.starts.running).toBe(0);
    expect(s.instances).toEqual([]);
    expect(s.memoryCommittedMB).toBe(0);
    await m.stopAll();
  });
});
