/**
 * Offered uploads (src/xdt/sidecar/offered-upload.ts): the SDK names a socket of its own in the run folder
 * and the sidecar reads the object from it straight into pool buffers. The offers here are made by the
 * test itself, so each case controls what the "SDK" does: serve all, serve part, serve slowly, or plant
 * something that is not its socket.
 */
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, pattern, type Instance } from '../transfer/harness.js';

const MB = 1024 * 1024;
const h = new Harness();
let producer: Instance;
let consumer: Instance;

beforeAll(async () => {
  // small buffers and an 8-buffer stream window: a 6 MB streamed object has to wait for buffers
  await h.start({ services: false, workers: 1, worker: { pool: { buffers: 24, bufferBytes: 256 * 1024, ownerShare: 1 }, poolWaitTimeoutMs: 2000 } });
  producer = await h.instance(0, 'producer');
  consumer = await h.instance(0, 'consumer');
});
afterAll(() => h.stop());

const offerName = () => `up-${randomBytes(12).toString('hex')}.sock`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** An offer in the run folder that runs `serve` on the first (and only expected) connection. */
async function offer(serve: (sock: net.Socket) => void): Promise<{ name: string; connections: () => number; close: () => void }> {
  const name = offerName();
  let connections = 0;
  const server = net.createServer((sock) => {
    connections++;
    sock.on('error', () => {});
    serve(sock);
  });
  await new Promise<void>((r) => server.listen(path.join(h.dir, name), () => r()));
  return { name, connections: () => connections, close: () => server.close() };
}

/** A raw sidecar call with an offer instead of a body. */
function call(instance: Instance, urlPath: string, headers: Record<string, string | number>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: instance.socketPath, method: 'POST', path: urlPath, headers: { 'content-length': 0, ...headers } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const errorType = (r: { body: string }) => (JSON.parse(r.body) as { error: { type: string } }).error.type;

describe('the SDK offers large objects', () => {
  it('a put above the threshold leaves no offer or claimed socket behind, and round-trips', async () => {
    const data = pattern(5 * MB + 3, 11);
    const ref = await producer.sdk.put(data, { transfer: 'xdt' });
    expect(sha((await consumer.sdk.get(ref)) as Buffer)).toBe(sha(data));
    expect((await fs.readdir(h.dir)).filter((f) => f.startsWith('up-'))).toEqual([]);
    expect(await fs.readdir(path.join(h.dir, '.uploads'))).toEqual([]);
  });
});

describe('the sidecar reads an offer', () => {
  it('into a stored object, byte for byte, from a socket it connected to itself', async () => {
    const data = pattern(3 * MB + 17, 12);
    const o = await offer((s) => s.end(data));
    const r = await call(producer, '/v1/put?transfer=xdt', { 'x-hivelab-upload': o.name, 'x-hivelab-object-length': data.length, 'content-type': 'application/octet-stream' });
    o.close();
    expect(r.status).toBe(200);
    expect(o.connections()).toBe(1);
    expect(sha((await consumer.sdk.get((JSON.parse(r.body) as { ref: string }).ref)) as Buffer)).toBe(sha(data));
  });

  it('cut-through into a streamed object larger than its window, pausing for buffers while the consumer pulls', async () => {
    const data = pattern(6 * MB + 5, 13);
    await h.deploy('offer-consumer', 0, async (event) => sha(event as Buffer));
    // the producer's socket trickles: a quarter now, the rest once the reader has come back for more
    const o = await offer((s) => {
      s.write(data.subarray(0, data.length / 4));
      setTimeout(() => s.end(data.subarray(data.length / 4)), 50);
    });
    const r = await call(producer, '/v1/invoke/offer-consumer?transfer=xdt', { 'x-hivelab-upload': o.name, 'x-hivelab-object-length': data.length, 'content-type': 'application/octet-stream' });
    o.close();
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toBe(sha(data));
    expect(h.workers[0]!.pool.inUseBuffers).toBe(0);
  });

  it('for the stream-reading transports too (inline invoke)', async () => {
    const data = pattern(3 * MB, 14);
    await h.deploy('offer-inline', 0, async (event) => sha(event as Buffer));
    const o = await offer((s) => s.end(data));
    const r = await call(producer, '/v1/invoke/offer-inline?transfer=inline', { 'x-hivelab-upload': o.name, 'x-hivelab-object-length': data.length, 'content-type': 'application/octet-stream' });
    o.close();
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toBe(sha(data));
  });
});

describe('a bad offer is refused with a typed error, never a hang', () => {
  it('a name that is not an offer name (a path out of the run folder) is InvalidArgument, touching nothing', async () => {
    for (const name of ['../../etc/passwd', 'qp.sock', `${offerName()}/x`, 'up-XYZ.sock']) {
      const r = await call(producer, '/v1/put?transfer=xdt', { 'x-hivelab-upload': name, 'x-hivelab-object-length': 10 });
      expect(r.status).toBe(400);
      expect(errorType(r)).toBe('InvalidArgument');
    }
    const o = await offer((s) => s.end('x'));
    const r = await call(producer, '/v1/put?transfer=xdt', { 'x-hivelab-upload': o.name });
    o.close();
    expect(errorType(r)).toBe('InvalidArgument'); // no object length
    expect(o.connections()).toBe(0);
  });

  it('a symlink planted under an offer name is not followed to the socket it points at', async () => {
    const target = await offer((s) => s.end('secret banner of some host service'));
    const name = offerName();
    await fs.symlink(path.join(h.dir, target.name), path.join(h.dir, name));
    const r = await call(producer, '/v1/put?transfer=xdt', { 'x-hivelab-upload': name, 'x-hivelab-object-length': 34 });
    target.close();
    expect(r.status).toBe(400);
    expect(errorType(r)).toBe('InvalidArgument');
    expect(target.connections()).toBe(0);
    expect(await fs.readdir(path.join(h.dir, '.uploads'))).toEqual([]);
  });

  it('an offer that is not there is XdtProducerGone', async () => {
    const r = await call(producer, '/v1/put?transfer=xdt', { 'x-hivelab-upload': offerName(), 'x-hivelab-object-length': 1000 });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(errorType(r)).toBe('XdtProducerGone');
  });

  it('an offer that hangs up half-way is XdtProducerGone and gives its buffers back', async () => {
    for (const transfer of ['xdt', 'inline']) {
      const data = pattern(2 * MB, 15);
      const o = await offer((s) => s.end(data.subarray(0, MB)));
      const r = await call(producer, `/v1/put?transfer=${transfer}`, { 'x-hivelab-upload': o.name, 'x-hivelab-object-length': data.length });
      o.close();
      expect(r.body.slice(0, 500), transfer).toContain('XdtProducerGone');
      expect(r.body.slice(0, 500)).toContain(`ended after ${MB} of ${2 * MB} B`);
    }
    expect(h.workers[0]!.pool.inUseBuffers).toBe(0);
  });
});
