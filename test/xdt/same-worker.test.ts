/**
 * Retrievals whose producer is in the consumer's own worker (the platform's default of one worker):
 * served from the pool buffers without the HTTP/2 hop (src/xdt/local-retrieval.ts), with the same
 * semantics as a pull — byte-for-byte, N retrievals then XdtRefExhausted, buffers back in the pool,
 * a producer gone mid-stream is an error — and without ever touching the peer server.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { Harness, pattern, type Instance } from '../transfer/harness.js';

const h = new Harness();
let producer: Instance;
let consumer: Instance;

beforeAll(async () => {
  await h.start({ services: false, workers: 1, worker: { pool: { buffers: 160, bufferBytes: 1024 * 1024 } } });
  producer = await h.instance(0, 'producer');
  consumer = await h.instance(0, 'consumer');
}, 60_000);
// a same-worker retrieval must never go through the HTTP/2 pull
afterEach(() => {
  expect(pull).not.toHaveBeenCalled();
});
let pull: ReturnType<typeof vi.spyOn>;
beforeAll(() => {
  pull = vi.spyOn(h.workers[0]!.peerClient, 'pull');
});
afterAll(() => h.stop());

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

it('a 100 MB object crosses byte-for-byte and its buffers go back to the pool', async () => {
  const data = pattern(100 * 1024 * 1024, 9);
  const before = h.workers[0]!.pool.inUseBuffers;
  const ref = await producer.sdk.put(data, { retrievals: 1 });
  expect(h.workers[0]!.pool.inUseBuffers).toBe(before + 100);
  const got = (await consumer.sdk.get(ref)) as Buffer;
  expect(sha(got)).toBe(sha(data));
  expect(h.workers[0]!.pool.inUseBuffers).toBe(before);
}, 120_000);

it('N retrievals succeed (concurrently), the N+1-th is XdtRefExhausted', async () => {
  const data = pattern(3 * 1024 * 1024 + 17, 2);
  const ref = await producer.sdk.put(data, { retrievals: 3 });
  const got = await Promise.all([0, 1, 2].map(() => consumer.sdk.get(ref) as Promise<Buffer>));
  for (const g of got) expect(g.equals(data)).toBe(true);
  await expect(consumer.sdk.get(ref)).rejects.toMatchObject({ type: 'XdtRefExhausted' });
});

it('a cut-through invoke to a function on the same worker delivers the object intact', async () => {
  const data = pattern(20 * 1024 * 1024, 4);
  await h.deploy('same-worker-consumer', 0, async (event) => ({ sha: sha(event as Buffer), n: (event as Buffer).length }));
  const r = (await producer.sdk.invoke('same-worker-consumer', data, { transfer: 'xdt' })) as { sha: string; n: number };
  expect(r).toEqual({ sha: sha(data), n: data.length });
}, 60_000);

it('the producer instance going away fails a get of its objects with XdtProducerGone', async () => {
  const gone = await h.instance(0, 'short-lived');
  const ref = await gone.sdk.put(pattern(1000, 1), { retrievals: 1 });
  await gone.sidecar.close();
  await expect(consumer.sdk.get(ref)).rejects.toMatchObject({ type: 'XdtProducerGone' });
});
