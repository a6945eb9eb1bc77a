/**
 * Per-function quotas on a worker's shared resources (issue 18): a function that fills the worker's
 * XDT pool with objects nobody retrieves made every other function's put wait until its 504; a
 * function opening sockets to its sidecar without end could use up the worker's descriptors.
 */
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Harness, pattern } from '../transfer/harness.js';
import { DEFAULT_SIDECAR_CONNECTIONS } from '../../src/xdt/sidecar/index.js';

const MB = 1024 * 1024;
const h = new Harness();

beforeAll(async () => {
  await h.start({ services: false, workers: 1, worker: { pool: { buffers: 16, bufferBytes: MB }, poolWaitTimeoutMs: 1500 } });
});
afterAll(() => h.stop());

it('a function holding its whole share of the XDT pool does not block another function\'s 1 KB put', async () => {
  const pool = h.workers[0]!.pool;
  const hog = await h.instance(0, 'hog');
  // the hog puts 1 MiB objects that nobody ever retrieves, until the pool stops it
  const held: string[] = [];
  let refused: unknown;
  for (let i = 0; i < 16 && refused === undefined; i++) {
    await hog.sdk.put(pattern(MB, i)).then((r) => held.push(r), (err: unknown) => (refused = err));
  }
  expect(refused).toMatchObject({ type: 'XdtPoolTimeout' });
  expect(pool.heldBy('hog')).toBe(pool.ownerShareBytes);
  expect(pool.ownerShareBytes).toBeLessThan(pool.capacityBytes);

  // another function on the same worker: its put goes through at once, and its get too
  const bystander = await h.instance(0, 'bystander');
  const small = pattern(1024, 99);
  const ref = await bystander.sdk.put(small);
  expect(((await bystander.sdk.get(ref)) as Buffer).equals(small)).toBe(true);
  // a larger one as well, up to what the hog left
  const rest = pattern(pool.capacityBytes - pool.ownerShareBytes - 4096, 7);
  const ref2 = await bystander.sdk.put(rest);
  expect(((await bystander.sdk.get(ref2)) as Buffer).length).toBe(rest.length);

  // a single object beyond one function's share is refused up front, with the reason
  await expect(bystander.sdk.put(pattern(pool.ownerShareBytes + 1, 3))).rejects.toMatchObject({ type: 'XdtObjectTooLarge' });

  // the hog's objects, once retrieved, give its share back
  for (const r of held) await bystander.sdk.get(r);
  // (a retrieval's buffers go back once the socket has flushed them)
  for (let i = 0; i < 100 && pool.inUseBuffers > 0; i++) await new Promise((r) => setTimeout(r, 50));
  expect(pool.heldBy('hog')).toBe(0);
  expect(pool.inUseBuffers).toBe(0);
}, 60_000);

it('an instance cannot hold more than its quota of connections to its sidecar; the others still get through', async () => {
  const greedy = await h.instance(0, 'greedy');
  const opened = 3 * DEFAULT_SIDECAR_CONNECTIONS;
  const socks = await Promise.all(
    Array.from(
      { length: opened },
      () =>
        new Promise<{ s: net.Socket; closed: Promise<boolean> }>((resolve) => {
          const s = net.connect(greedy.socketPath);
          const closed = new Promise<boolean>((r) => {
            s.once('close', () => r(true));
            setTimeout(() => r(false), 3000).unref();
          });
          s.on('error', () => {});
          s.once('connect', () => resolve({ s, closed }));
          s.once('error', () => resolve({ s, closed }));
        }),
    ),
  );
  const closedByServer = (await Promise.all(socks.map((x) => x.closed))).filter(Boolean).length;
  expect(closedByServer).toBeGreaterThanOrEqual(opened - DEFAULT_SIDECAR_CONNECTIONS);
  // another instance's sidecar on the same worker answers as ever
  const other = await h.instance(0, 'calm');
  const ref = await other.sdk.put(pattern(100, 1));
  expect(((await other.sdk.get(ref)) as Buffer).length).toBe(100);
  for (const { s } of socks) s.destroy();
  // and the greedy instance itself, once it lets go, is served again
  await new Promise((r) => setTimeout(r, 200));
  const mine = await greedy.sdk.put(pattern(10, 2));
  expect(((await greedy.sdk.get(mine)) as Buffer).length).toBe(10);
}, 60_000);
