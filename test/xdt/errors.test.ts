/**
 * XDT semantics and errors (thesis §6.3.2.2): forged, tampered, expired, exhausted and producer-gone
 * references give `get` a typed error — never a hang, never someone else's data.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, pattern, type Instance } from '../transfer/harness.js';
import { sealReference } from '../../src/transfer/reference.js';

const h = new Harness();
let producer: Instance;
let consumer: Instance;

beforeAll(async () => {
  await h.start({ services: false, workers: 3, worker: { pool: { buffers: 16, bufferBytes: 64 * 1024 }, poolWaitTimeoutMs: 500 } });
  producer = await h.instance(0, 'producer');
  consumer = await h.instance(1, 'consumer');
});
afterAll(() => h.stop());

function flipByte(ref: string, at: number): string {
  const [prefix, body] = [ref.slice(0, 4), ref.slice(4)];
  const raw = Buffer.from(body, 'base64url');
  raw[at] = raw[at]! ^ 0x01;
  return prefix + raw.toString('base64url');
}

describe('forged and tampered references', () => {
  it('one flipped byte anywhere (iv, payload, tag) is rejected, and the original still works', async () => {
    const data = pattern(10_000, 3);
    const ref = await producer.sdk.put(data, { retrievals: 1 });
    const len = Buffer.from(ref.slice(4), 'base64url').length;
    for (const at of [0, 11, 12, 20, Math.floor(len / 2), len - 17, len - 1]) {
      await expect(consumer.sdk.get(flipByte(ref, at))).rejects.toMatchObject({ type: 'XdtRefInvalid' });
    }
    // a changed character in the text form too
    const last = ref[ref.length - 2] === 'A' ? 'B' : 'A';
    await expect(consumer.sdk.get(ref.slice(0, -2) + last + ref.slice(-1))).rejects.toMatchObject({ type: 'XdtRefInvalid' });
    // rejected attempts did not use up the single retrieval
    expect(((await consumer.sdk.get(ref)) as Buffer).equals(data)).toBe(true);
  });

  it('a reference sealed with another key, garbage, truncation and the empty string are rejected', async () => {
    const ref = await producer.sdk.put(pattern(100, 4));
    const forged = sealReference(randomBytes(32), { t: 'xdt', a: h.workers[0]!.peer.address, w: h.workers[0]!.bootId, i: producer.instanceId, k: 'x', n: 9, e: Date.now() + 1e6 });
    for (const bad of [forged, 'hello', 'hl1.' + 'A'.repeat(80), ref.slice(0, ref.length - 5), ref + 'A', 'hl1.']) {
      await expect(consumer.sdk.get(bad)).rejects.toMatchObject({ type: 'XdtRefInvalid' });
    }
    await expect(consumer.sdk.get('')).rejects.toMatchObject({ type: 'XdtRefInvalid' });
  });

  it('user code cannot read the producer address out of a reference', async () => {
    const ref = await producer.sdk.put(pattern(10, 5));
    const port = h.workers[0]!.peer.address.split(':')[1]!;
    expect(ref).not.toContain('127.0.0.1');
    expect(Buffer.from(ref.slice(4), 'base64url').toString('latin1')).not.toContain(port);
  });
});

describe('lifetime', () => {
  it('exhausted after N retrievals; pendingObjects counts down', async () => {
    const fresh = await h.instance(0, 'producer-n');
    const before = h.workers[0]!.pool.inUseBuffers;
    const data = pattern(200_000, 6);
    const ref = await fresh.sdk.put(data, { retrievals: 2 });
    expect(fresh.sidecar.pendingObjects()).toBe(1);
    expect(((await consumer.sdk.get(ref)) as Buffer).equals(data)).toBe(true);
    expect(fresh.sidecar.pendingObjects()).toBe(1);
    expect(((await consumer.sdk.get(ref)) as Buffer).equals(data)).toBe(true);
    expect(fresh.sidecar.pendingObjects()).toBe(0);
    await expect(consumer.sdk.get(ref)).rejects.toMatchObject({ type: 'XdtRefExhausted' });
    // the buffers went back to the pool
    expect(h.workers[0]!.pool.inUseBuffers).toBe(before);
  });

  it('producer instance gone: its objects are freed and get says XdtProducerGone', async () => {
    const doomed = await h.instance(0, 'producer-doomed');
    const before = h.workers[0]!.pool.inUseBuffers;
    const refs = [await doomed.sdk.put(pattern(100_000, 7)), await doomed.sdk.put({ json: true }, { retrievals: 5 })];
    expect(doomed.sidecar.pendingObjects()).toBe(2);
    await doomed.sidecar.close();
    expect(doomed.sidecar.pendingObjects()).toBe(0);
    for (const ref of refs) await expect(consumer.sdk.get(ref)).rejects.toMatchObject({ type: 'XdtProducerGone' });
    expect(h.workers[0]!.pool.inUseBuffers).toBe(before);
  });

  it('producer worker gone (peer server down): XdtProducerGone, not a hang', async () => {
    const w = h.workers[2]!;
    const p = await h.instance(2, 'producer-on-dying-worker');
    const ref = await p.sdk.put(pattern(1000, 8));
    await p.sidecar.close();
    await w.close();
    await expect(consumer.sdk.get(ref)).rejects.toMatchObject({ type: 'XdtProducerGone' });
  });

  it('each reference yields its own object, never another one', async () => {
    const a = pattern(70_000, 10);
    const b = pattern(70_000, 11);
    const [ra, rb] = [await producer.sdk.put(a), await producer.sdk.put(b)];
    const [ga, gb] = (await Promise.all([consumer.sdk.get(rb), consumer.sdk.get(ra)])).reverse() as Buffer[];
    expect(ga!.equals(a)).toBe(true);
    expect(gb!.equals(b)).toBe(true);
  });
});

describe('limits', () => {
  it('a stored object larger than the whole pool fails fast with XdtObjectTooLarge', async () => {
    const before = h.workers[0]!.pool.inUseBuffers;
    await expect(producer.sdk.put(pattern(2 * 1024 * 1024, 12))).rejects.toMatchObject({ type: 'XdtObjectTooLarge' });
    expect(h.workers[0]!.pool.inUseBuffers).toBe(before);
  });

  it('a cut-through invoke of an object larger than the pool still crosses (streamed window)', async () => {
    await h.deploy('sizer', 1, async (event) => ({ size: (event as Buffer).length, first: (event as Buffer)[0], last: (event as Buffer).at(-1) }));
    const data = pattern(3 * 1024 * 1024 + 3, 13);
    expect(await producer.sdk.invoke('sizer', data, { transfer: 'xdt' })).toEqual({ size: data.length, first: data[0], last: data.at(-1) });
    expect(h.workers[0]!.pool.peakBytes).toBeLessThanOrEqual(h.workers[0]!.pool.capacityBytes);
  });

  it('a pool held by unretrieved objects makes the next put wait, then fail with XdtPoolTimeout (not hang)', async () => {
    const hog = await h.instance(0, 'producer-hog');
    const pool = h.workers[0]!.pool;
    // what this function may still take: the free buffers, up to its share of the pool
    const free = Math.min(16 - pool.inUseBuffers, pool.ownerShareBytes / (64 * 1024));
    const held = await hog.sdk.put(pattern(free * 64 * 1024, 20));
    await expect(hog.sdk.put(pattern(64 * 1024, 21))).rejects.toMatchObject({ type: 'XdtPoolTimeout' });
    // once the held object is retrieved its buffers come back and puts proceed again
    expect(((await consumer.sdk.get(held)) as Buffer).length).toBe(free * 64 * 1024);
    const ref = await hog.sdk.put(pattern(64 * 1024, 22));
    expect(((await consumer.sdk.get(ref)) as Buffer).equals(pattern(64 * 1024, 22))).toBe(true);
  });

  it('unknown transfer and bad retrievals are InvalidArgument; an unknown callee is reported', async () => {
    const producer = await h.instance(0, 'producer-args');
    await expect(producer.sdk.put(pattern(10), { transfer: 'carrier-pigeon' })).rejects.toMatchObject({ type: 'InvalidArgument' });
    await expect(producer.sdk.put(pattern(10), { retrievals: 0 })).rejects.toMatchObject({ type: 'InvalidArgument' });
    await expect(producer.sdk.invoke('nope', pattern(10), { transfer: 'xdt' })).rejects.toMatchObject({ status: 404 });
    // the streamed object of the failed invoke was dropped
    expect(producer.sidecar.pendingObjects()).toBe(0);
  });

  it('storage and redis are TransferUnavailable when the worker has no such service', async () => {
    await expect(producer.sdk.put(pattern(10), { transfer: 'redis' })).rejects.toMatchObject({ type: 'TransferUnavailable' });
    await expect(producer.sdk.put(pattern(10), { transfer: 'storage' })).rejects.toMatchObject({ type: 'TransferUnavailable' });
  });
});

describe('expiry', () => {
  const short = new Harness();
  afterAll(() => short.stop());

  it('an expired reference gives XdtRefExpired and the object is freed', async () => {
    await short.start({ services: false, workers: 1, worker: { ttlMs: 300 } });
    const p = await short.instance(0, 'p');
    const c = await short.instance(0, 'c');
    const refs = [await p.sdk.put(pattern(5000, 14), { retrievals: 3 }), await p.sdk.put('tiny', { transfer: 'inline' })];
    await new Promise((r) => setTimeout(r, 700));
    for (const ref of refs) await expect(c.sdk.get(ref)).rejects.toMatchObject({ type: 'XdtRefExpired' });
    expect(p.sidecar.pendingObjects()).toBe(0);
    expect(short.workers[0]!.pool.inUseBuffers).toBe(0);
  });
});

describe('broken connections', () => {
  it('a producer that disconnects mid-put leaves no object and no buffers behind', async () => {
    const { default: http } = await import('node:http');
    const p = await h.instance(0, 'producer-quitter');
    const before = h.workers[0]!.pool.inUseBuffers;
    await new Promise<void>((resolve) => {
      const req = http.request({
        socketPath: p.socketPath,
        method: 'POST',
        path: '/v1/put?retrievals=1',
        headers: { 'content-type': 'application/octet-stream', 'content-length': 512 * 1024 },
      });
      req.on('error', () => resolve());
      req.write(pattern(100 * 1024, 1), async () => {
        // only once the sidecar holds the half-uploaded object
        while (p.sidecar.pendingObjects() === 0) await new Promise((r) => setTimeout(r, 5));
        req.destroy();
      });
      req.on('close', () => resolve());
    });
    for (let i = 0; i < 400 && (p.sidecar.pendingObjects() > 0 || h.workers[0]!.pool.inUseBuffers !== before); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(p.sidecar.pendingObjects()).toBe(0);
    expect(h.workers[0]!.pool.inUseBuffers).toBe(before);
  });
});

describe('refused invocations', () => {
  it('a cut-through invoke the callee refuses reports the refusal (not a broken upload) and frees its buffers', async () => {
    const p = await h.instance(0, 'producer-refused');
    const before = h.workers[0]!.pool.inUseBuffers;
    // 8 MB: far more than the sockets buffer, so the sidecar answers while the upload is still coming
    await expect(p.sdk.invoke('no-such-function', pattern(8 * 1024 * 1024, 6), { transfer: 'xdt' })).rejects.toMatchObject({ type: 'NotFound' });
    expect(p.sidecar.pendingObjects()).toBe(0);
    expect(h.workers[0]!.pool.inUseBuffers).toBe(before);
  });
});
