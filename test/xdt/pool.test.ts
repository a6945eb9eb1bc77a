/**
 * The buffer pool bound: 32 concurrent 10 MB puts into a 48 MB pool all complete byte-for-byte while
 * the bytes buffered at once never exceed the pool (producers wait instead: flow control).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Harness, pattern, type Instance } from '../transfer/harness.js';
import { BufferPool } from '../../src/xdt/buffer-pool.js';

const MB = 1024 * 1024;
const h = new Harness();
let consumer: Instance;

beforeAll(async () => {
  await h.start({ services: false, workers: 2, worker: { pool: { buffers: 48, bufferBytes: MB } } });
  consumer = await h.instance(1, 'consumer');
});
afterAll(() => h.stop());

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

it('32 concurrent 10 MB puts (each then retrieved) stay within the pool', async () => {
  const pool = h.workers[0]!.pool;
  pool.resetPeak();
  const producers = await Promise.all(Array.from({ length: 32 }, (_, i) => h.instance(0, `producer${i}`)));
  const results = await Promise.all(
    producers.map(async (p, i) => {
      const data = pattern(10 * MB, 1000 + i);
      const ref = await p.sdk.put(data);
      const got = (await consumer.sdk.get(ref)) as Buffer;
      return { want: sha(data), got: sha(got), size: got.length };
    }),
  );
  for (const r of results) {
    expect(r.size).toBe(10 * MB);
    expect(r.got).toBe(r.want);
  }
  expect(pool.peakBytes).toBeLessThanOrEqual(pool.capacityBytes);
  // the pool really was the limit: several objects were held at once, then all buffers came back
  expect(pool.peakBytes).toBeGreaterThanOrEqual(20 * MB);
  expect(pool.inUseBuffers).toBe(0);
});

it('32 concurrent 10 MB cut-through invokes cross in bounded memory', async () => {
  const pool = h.workers[0]!.pool;
  pool.resetPeak();
  await h.deploy('digest', 1, async (event) => ({ sha: sha(event as Buffer) }));
  const producers = await Promise.all(Array.from({ length: 32 }, (_, i) => h.instance(0, `invoker${i}`)));
  await Promise.all(
    producers.map(async (p, i) => {
      const data = pattern(10 * MB, 2000 + i);
      expect(await p.sdk.invoke('digest', data, { transfer: 'xdt' })).toEqual({ sha: sha(data) });
    }),
  );
  expect(pool.peakBytes).toBeLessThanOrEqual(pool.capacityBytes);
  expect(pool.inUseBuffers).toBe(0);
});

it('BufferPool serves waiters first come, first served, and an aborted wait leaves no trace', async () => {
  const pool = new BufferPool({ buffers: 4, bufferBytes: 4096 });
  const a = await pool.acquire(3);
  const order: string[] = [];
  const big = pool.acquire(3).then((b) => (order.push('big'), b));
  const small = pool.acquire(1).then((b) => (order.push('small'), b));
  const ac = new AbortController();
  const aborted = pool.acquire(2, ac.signal);
  ac.abort();
  await expect(aborted).rejects.toBeInstanceOf(Error);
  pool.release(a);
  const [bigBufs, smallBufs] = await Promise.all([big, small]);
  expect(order).toEqual(['big', 'small']);
  expect(pool.inUseBuffers).toBe(4);
  pool.release(bigBufs);
  pool.release(smallBufs);
  expect(pool.inUseBuffers).toBe(0);
  expect(pool.peakBytes).toBe(4 * 4096);
  await expect(pool.acquire(5)).rejects.toMatchObject({ type: 'XdtObjectTooLarge' });
});
