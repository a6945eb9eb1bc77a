import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { connect } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startTestPlatform, removeState, FIXTURES, type TestPlatform } from '../platform/harness.js';
import { grpcFunctionDir, greeterClient, unary } from './helpers.js';

/** Requests and functions that try to break the h2c front door or the port bridge. */
describe('gRPC gateway against hostile clients and broken functions', () => {
  let t: TestPlatform;
  let target: string;
  let auth: Record<string, string>;
  const clients: grpc.Client[] = [];

  beforeAll(async () => {
    t = await startTestPlatform();
    target = new URL(t.platform.url).host;
    auth = { authorization: `Bearer ${t.platform.tokens.invoke}` };
    expect((await t.deploy(await grpcFunctionDir('grpc-hello-node', ['helloworld']))).status).toBe(201);
    expect((await t.deploy(join(FIXTURES, 'never-listens'))).status).toBe(201);
  }, 200_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await t?.stop();
    await removeState(t.stateDir);
  });

  /** Raw bytes on a fresh connection; resolves with what came back before the server closed or `ms` passed. */
  const raw = (bytes: string, ms = 3000) =>
    new Promise<string>((resolve) => {
      const u = new URL(t.platform.url);
      const s = connect(Number(u.port), u.hostname);
      let got = '';
      s.on('data', (d) => (got += d.toString('latin1')));
      s.on('error', () => undefined);
      const timer = setTimeout(() => (s.destroy(), resolve(got)), ms);
      s.on('close', () => (clearTimeout(timer), resolve(got)));
      s.write(bytes);
    });

  it('a request line that starts like the HTTP/2 preface but is not is HTTP/1.1 (and refused as such)', async () => {
    const reply = await raw('PRI * HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 (400|404|405)/);
  }, 200_000);

  it('a stalled half preface holds nothing: other clients are served meanwhile', async () => {
    const u = new URL(t.platform.url);
    const stalled = connect(Number(u.port), u.hostname);
    stalled.on('error', () => undefined);
    stalled.write('PRI * HTTP/2.0\r\n');
    try {
      const c = greeterClient(target, 'grpc-hello-node.default.example.com');
      clients.push(c);
      const r = await unary(c, 'SayHello', { name: 'meanwhile' }, auth);
      expect(r.err?.details).toBeUndefined();
      expect((await t.api('GET', '/v1/health')).status).toBe(200);
    } finally {
      stalled.destroy();
    }
  }, 200_000);

  it('a 2 MiB request message crosses the gateway and the queue-proxy intact (flow control, > 1 MB)', async () => {
    const c = greeterClient(target, 'grpc-hello-node.default.example.com');
    clients.push(c);
    const name = 'x'.repeat(2 * 1024 * 1024);
    const r = await unary(c, 'SayHello', { name }, auth);
    expect(r.err?.details).toBeUndefined();
    expect(r.reply!.message.length).toBe(`Hello, ${name} from `.length + r.headers['x-hivelab-instance-id']!.length);
  }, 200_000);

  it('garbage after a valid preface ends that connection only', async () => {
    const reply = await raw('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + 'garbage'.repeat(10));
    // The HTTP/2 server answers a broken frame with GOAWAY (frame type 7) or closes; the gateway lives on.
    expect(reply.length === 0 || reply.includes('\x07')).toBe(true);
    expect((await t.api('GET', '/v1/health')).status).toBe(200);
  }, 200_000);

  it('a server program that exits before listening fails its start with its log tail, as UNAVAILABLE', async () => {
    const c = greeterClient(target, 'never-listens.default.example.com');
    clients.push(c);
    const r = await unary(c, 'SayHello', { name: 'x' }, auth);
    expect(r.err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.err?.details).toMatch(/failed to start/);
    expect(r.err?.details).toMatch(/exited before becoming ready/);
  }, 200_000);
});
