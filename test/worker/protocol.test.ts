/**
 * The worker protocol from the control plane's side of the IPC channel, against the real compiled
 * worker process (dist/worker/main.js) with no sandbox started: `ready` first, exactly one reply
 * per request matched by `reqId` (also when answered out of order), errors carrying a stable
 * `type`, and the worker stopping once the control plane goes away.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerConfig, WorkerMessage, WorkerReply, WorkerRequest } from '../../src/worker/protocol.js';

const ROOT = join(import.meta.dirname, '../..');
const WORKER_MAIN = join(ROOT, 'dist/worker/main.js');

let stateDir: string;
let child: ChildProcess;
const messages: WorkerMessage[] = [];
const waiters: Array<() => void> = [];

function waitFor<T extends WorkerMessage>(match: (m: WorkerMessage) => m is T, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no such message from the worker')), timeoutMs);
    const check = (): boolean => {
      const m = messages.find(match);
      if (!m) return false;
      clearTimeout(timer);
      resolve(m);
      return true;
    };
    const again = (): void => {
      if (!check()) waiters.push(again);
    };
    if (!check()) waiters.push(again);
  });
}

const replyTo = (reqId: number) => (m: WorkerMessage): m is WorkerReply => 'reqId' in m && m.reqId === reqId;

function request(req: WorkerRequest): Promise<WorkerReply> {
  child.send(req);
  return waitFor(replyTo(req.reqId));
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'hivelab-worker-protocol-'));
  const config: WorkerConfig = {
    workerId: 'w-test',
    stateDir,
    memoryBudgetMB: 256,
    rootDir: ROOT,
    gatewayUrl: 'http://127.0.0.1:9',
    invokeToken: 'not-used',
    transfers: { sealKeyHex: randomBytes(32).toString('hex'), pool: { buffers: 4, bufferBytes: 65536 }, inlineLimitBytes: 1 << 20 },
  };
  // the worker takes its config (with the platform's secrets) as its first IPC message, never argv
  child = fork(WORKER_MAIN, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  child.send({ op: 'configure', config });
  child.on('message', (m: WorkerMessage) => {
    messages.push(m);
    for (const w of waiters.splice(0)) w();
  });
});

afterAll(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  await rm(stateDir, { recursive: true, force: true });
});

describe('worker protocol', () => {
  it('announces itself ready with its id', async () => {
    const ready = await waitFor((m): m is Extract<WorkerMessage, { event: 'ready' }> => 'event' in m && m.event === 'ready');
    expect(ready.workerId).toBe('w-test');
  });

  it('answers each request once, matched by reqId, whatever order the answers come in', async () => {
    // A stop of an unknown instance and a stats request in one burst, with ids out of order.
    child.send({ op: 'stop', reqId: 41, instanceId: 'no-such-instance', force: true } satisfies WorkerRequest);
    child.send({ op: 'stats', reqId: 40 } satisfies WorkerRequest);
    const [stop, stats] = await Promise.all([waitFor(replyTo(41)), waitFor(replyTo(40))]);
    expect(stop).toEqual({ reqId: 41, ok: true, result: null });
    expect(stats).toMatchObject({ reqId: 40, ok: true, result: { workerId: 'w-test', pid: child.pid, memoryBudgetMB: 256, memoryCommittedMB: 0, instances: [] } });
    expect(messages.filter((m) => 'reqId' in m && (m.reqId === 40 || m.reqId === 41))).toHaveLength(2);
  });

  it('refuses an instance over its memory budget with a typed error, and commits nothing', async () => {
    const reply = await request({
      op: 'start',
      reqId: 42,
      instanceId: 'big-1',
      functionName: 'big',
      version: 'v1',
      functionDir: join(stateDir, 'nowhere'),
      manifest: { name: 'big', runtime: 'node', handler: 'index.handler', memoryMB: 1024, timeoutMs: 1000, concurrency: 1 } as never,
      coldStart: 'boot',
    });
    expect(reply.ok).toBe(false);
    expect(reply).toMatchObject({ reqId: 42, error: { type: 'NoCapacity' } });
    expect((reply as Extract<WorkerReply, { ok: false }>).error.message).toMatch(/no memory left for 1024 MB/);
    const stats = await request({ op: 'stats', reqId: 43 });
    expect(stats).toMatchObject({ ok: true, result: { memoryCommittedMB: 0, instances: [] } });
  });

  it('stops when the control plane goes away', async () => {
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.disconnect();
    expect(await exited).toBe(0);
  });
});
