/**
 * Every transport round-trips 0 B, 1 B, 1 MB and 100 MB byte-for-byte between two instances on two
 * workers (sidecars on Unix sockets, XDT pulls over HTTP/2, real redis-server and s3rver), both with
 * put/get and with invoke (the callee's runtime resolves the reference before its handler runs).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, pattern, type Instance } from './harness.js';

const MB = 1024 * 1024;
const SIZES = [0, 1, MB, 100 * MB];
const TRANSPORTS = ['xdt', 'xdt-saf', 'storage', 'redis', 'inline'] as const;

const h = new Harness();
let producer: Instance;
let consumer: Instance;

function digest(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

beforeAll(async () => {
  await h.start();
  producer = await h.instance(0, 'producer');
  // the callee answers with what it saw, so the caller can check the bytes that crossed
  consumer = await h.deploy('consumer', 1, async (event) => {
    if (!Buffer.isBuffer(event)) return { kind: typeof event, value: event };
    return { kind: 'bytes', size: event.length, sha256: digest(event) };
  });
});
afterAll(() => h.stop());

describe.each(TRANSPORTS)('transfer %s', (transfer) => {
  for (const size of SIZES) {
    const tooBig = transfer === 'inline' && size > 6 * MB;
    it(`put/get ${size} B ${tooBig ? 'is refused (InlineTooLarge)' : 'byte-for-byte'}`, async () => {
      const data = pattern(size, size + 7);
      if (tooBig) {
        await expect(producer.sdk.put(data, { transfer })).rejects.toMatchObject({ type: 'InlineTooLarge' });
        return;
      }
      const ref = await producer.sdk.put(data, { transfer });
      expect(typeof ref).toBe('string');
      const got = (await consumer.sdk.get(ref)) as Buffer;
      expect(Buffer.isBuffer(got)).toBe(true);
      expect(got.length).toBe(size);
      expect(got.equals(data)).toBe(true);
    });

    it(`invoke ${size} B ${tooBig ? 'is refused (InlineTooLarge)' : 'reaches the handler intact'}`, async () => {
      const data = pattern(size, size + 11);
      if (tooBig) {
        await expect(producer.sdk.invoke('consumer', data, { transfer })).rejects.toMatchObject({ type: 'InlineTooLarge' });
        return;
      }
      const res = (await producer.sdk.invoke('consumer', data, { transfer })) as { kind: string; size: number; sha256: string };
      expect(res).toEqual({ kind: 'bytes', size, sha256: digest(data) });
    });
  }

  it('JSON values keep their type', async () => {
    const value = { a: [1, 2.5, 'x', null, true], nested: { ü: 'ünïcode' } };
    const ref = await producer.sdk.put(value, { transfer });
    expect(await consumer.sdk.get(ref)).toEqual(value);
    expect(await producer.sdk.invoke('consumer', value, { transfer })).toEqual({ kind: 'object', value });
  });
});

it('an object put with N retrievals can be retrieved N times, by several consumers', async () => {
  const other = await h.instance(0, 'consumer2');
  const data = pattern(3 * MB + 5, 99);
  const ref = await producer.sdk.put(data, { retrievals: 3, transfer: 'xdt' });
  const got = await Promise.all([consumer.sdk.get(ref), other.sdk.get(ref), consumer.sdk.get(ref)]);
  for (const g of got) expect((g as Buffer).equals(data)).toBe(true);
  await expect(consumer.sdk.get(ref)).rejects.toMatchObject({ type: 'XdtRefExhausted' });
});
