/**
 * Cut-through: with `invoke(..., {transfer: 'xdt'})` the consumer's sidecar receives the first bytes
 * while the producer is still uploading the rest (checked by ordering, not by timing).
 */
import http from 'node:http';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Harness, pattern } from '../transfer/harness.js';

const MB = 1024 * 1024;
const h = new Harness();
beforeAll(() => h.start({ services: false, workers: 2, worker: { pool: { buffers: 32, bufferBytes: 256 * 1024 } } }));
afterAll(() => h.stop());

it('the pull starts before the put finishes', async () => {
  const total = 8 * MB;
  const data = pattern(total, 77);
  let producerSent = 0;
  let sentWhenConsumerSawBytes = -1;
  let sawFirstBytes!: () => void;
  const firstBytes = new Promise<void>((r) => (sawFirstBytes = r));

  // a consumer that streams the object from its own sidecar instead of waiting for all of it
  const consumer = await h.deploy(
    'streaming-consumer',
    1,
    async (event) => {
      const ref = (event as { $xdt: string }).$xdt;
      return new Promise((resolve, reject) => {
        const req = http.request({ socketPath: consumer.socketPath, method: 'POST', path: '/v1/get' }, (res) => {
          const hash = createHash('sha256');
          let n = 0;
          res.on('data', (c: Buffer) => {
            if (n === 0) {
              sentWhenConsumerSawBytes = producerSent;
              sawFirstBytes();
            }
            n += c.length;
            hash.update(c);
          });
          res.on('end', () => resolve({ n, sha: hash.digest('hex') }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(ref);
      });
    },
    { raw: true },
  );

  const producer = await h.instance(0, 'producer');
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(
      {
        socketPath: producer.socketPath,
        method: 'POST',
        path: '/v1/invoke/streaming-consumer?transfer=xdt',
        headers: { 'content-type': 'application/octet-stream', 'content-length': total },
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    // first quarter now, the rest only once the consumer has seen bytes
    const first = data.subarray(0, total / 4);
    producerSent = first.length;
    req.write(first);
    void firstBytes.then(() => {
      producerSent = total;
      req.end(data.subarray(total / 4));
    });
  });

  const res = await response;
  expect(res.status).toBe(200);
  expect(JSON.parse(res.body)).toEqual({ n: total, sha: createHash('sha256').update(data).digest('hex') });
  expect(sentWhenConsumerSawBytes).toBeGreaterThan(0);
  expect(sentWhenConsumerSawBytes).toBeLessThan(total);
});

it('store-and-forward (xdt-saf) delivers the same bytes', async () => {
  await h.deploy('saf-consumer', 1, async (event) => ({ sha: createHash('sha256').update(event as Buffer).digest('hex') }));
  const producer = await h.instance(0, 'producer-saf');
  const data = pattern(5 * MB + 1, 78);
  expect(await producer.sdk.invoke('saf-consumer', data, { transfer: 'xdt-saf' })).toEqual({ sha: createHash('sha256').update(data).digest('hex') });
});

it('the consumer sidecar starts pulling while the consumer instance is still cold-starting', async () => {
  const producer = await h.instance(0, 'producer-cold');
  const data = pattern(6 * MB + 9, 79);
  let pulledBeforeHandler = false;
  await h.deploy('cold-consumer', 1, async (event) => ({ sha: createHash('sha256').update(event as Buffer).digest('hex') }), {
    // the "cold start" ends only once the producer saw the pull begin (its object is claimed)
    coldStart: async () => {
      while (producer.sidecar.pendingObjects() > 0) await new Promise((r) => setTimeout(r, 5));
      pulledBeforeHandler = true;
    },
  });
  expect(await producer.sdk.invoke('cold-consumer', data, { transfer: 'xdt' })).toEqual({ sha: createHash('sha256').update(data).digest('hex') });
  expect(pulledBeforeHandler).toBe(true);
});
