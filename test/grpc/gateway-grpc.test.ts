import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as h2connect } from 'node:http2';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { startTestPlatform, removeState, eventually, type TestPlatform } from '../platform/harness.js';
import { grpcFunctionDir, greeterClient, unary, PROTOS } from './helpers.js';

const run = promisify(execFile);

/**
 * gRPC through the platform with stock clients (grpc-js here, Debian's python3-grpcio below): h2c on
 * the gateway's port, routing by Knative-style :authority or header, each call one invocation for
 * the activator and the queue-proxy, platform failures as gRPC statuses, a function's own status
 * passed through.
 */
describe('gRPC calls through the gateway', () => {
  let t: TestPlatform;
  let target: string;
  let auth: Record<string, string>;
  const clients: grpc.Client[] = [];
  const client = (authority: string) => {
    const c = greeterClient(target, authority);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startTestPlatform();
    target = new URL(t.platform.url).host;
    auth = { authorization: `Bearer ${t.platform.tokens.invoke}` };
    for (const [fixture, ok] of [['grpc-hello-node', 201], ['grpc-hello-python', 201]] as const) {
      const r = await t.deploy(await grpcFunctionDir(fixture, ['helloworld']));
      expect(r.status, r.body.toString()).toBe(ok);
    }
    // The same server with a 3 s timeout, for the timeout test (the others allow slow cold starts).
    const slow = await grpcFunctionDir('grpc-hello-node', ['helloworld']);
    const manifest = JSON.parse(await readFile(join(slow, 'function.json'), 'utf8'));
    await writeFile(join(slow, 'function.json'), JSON.stringify({ ...manifest, name: 'grpc-slow-node', timeoutMs: 3000, scaling: { maxScale: 1 } }));
    expect((await t.deploy(slow)).status).toBe(201);
  }, 200_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await t?.stop();
    await removeState(t.stateDir);
  }, 200_000);

  it('a grpc-js call reaches the function by its Knative host name, cold then warm on the same instance', async () => {
    const c = client('grpc-hello-node.default.127.0.0.1.sslip.io:80');
    const cold = await unary(c, 'SayHello', { name: 'vswarm' }, auth);
    expect(cold.err).toBeUndefined();
    expect(cold.headers['x-hivelab-cold']).toBe('1');
    const id = cold.headers['x-hivelab-instance-id']!;
    expect(cold.reply!.message).toBe(`Hello, vswarm from ${id}`);
    const warm = await unary(c, 'SayHello', { name: 'again' }, auth);
    expect(warm.err).toBeUndefined();
    expect(warm.headers['x-hivelab-cold']).toBe('0');
    expect(warm.headers['x-hivelab-instance-id']).toBe(id);
    expect(warm.reply!.message).toBe(`Hello, again from ${id}`);
  }, 200_000);

  it('the x-hivelab-function header routes a call dialled by address; the platform token does not reach the function', async () => {
    const c = client(target);
    const r = await unary(c, 'SayHello', { name: 'meta' }, { ...auth, 'x-hivelab-function': 'grpc-hello-node', 'x-user-thing': 'kept', 'x-hivelab-invocation-id': 'forged' });
    expect(r.err).toBeUndefined();
    const md = JSON.parse(r.reply!.message) as Record<string, string>;
    expect(md['x-user-thing']).toBe('kept');
    expect(md.authorization).toBeUndefined();
    // A client cannot forge the platform's own headers.
    expect(md['x-hivelab-invocation-id']).toBe(r.headers['x-hivelab-invocation-id']);
    expect(md['x-hivelab-invocation-id']).not.toBe('forged');
  }, 200_000);

  it('Debian python3-grpcio, as a client and as the function, with vSwarm-proto generated modules', async () => {
    const script = `
import sys, grpc
sys.path.insert(0, ${JSON.stringify(PROTOS + '/..')})
from proto.helloworld import helloworld_pb2, helloworld_pb2_grpc
ch = grpc.insecure_channel(${JSON.stringify(target)}, options=[("grpc.default_authority", "grpc-hello-python.default.svc.cluster.local")])
stub = helloworld_pb2_grpc.GreeterStub(ch)
md = [("authorization", ${JSON.stringify(auth.authorization)})]
print(stub.SayHello(helloworld_pb2.HelloRequest(name="py"), metadata=md, timeout=150).message)
print(stub.SayHello(helloworld_pb2.HelloRequest(name="py2"), metadata=md, timeout=150).message)
try:
    stub.SayHello(helloworld_pb2.HelloRequest(name="fail"), metadata=md, timeout=150)
except grpc.RpcError as e:
    print(e.code().name, e.details())
`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script], { timeout: 180_000 });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^Hello, py from grpc-hello-python-\S+ \(python\)$/);
    expect(lines[1]).toMatch(/^Hello, py2 from grpc-hello-python-\S+ \(python\)$/);
    expect(lines[2]).toBe('INVALID_ARGUMENT the name "fail" is refused');
  }, 200_000);

  it('platform failures are gRPC statuses: unknown function, no token, a bad token', async () => {
    const unknown = await unary(client('nope.default.example.com'), 'SayHello', { name: 'x' }, auth);
    expect(unknown.err?.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(unknown.err?.details).toContain('no function named "nope"');
    const byAddress = await unary(client(target), 'SayHello', { name: 'x' }, auth);
    expect(byAddress.err?.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(byAddress.err?.details).toContain('x-hivelab-function');
    const noToken = await unary(client('grpc-hello-node.default.example.com'), 'SayHello', { name: 'x' }, {});
    expect(noToken.err?.code).toBe(grpc.status.UNAUTHENTICATED);
    const badToken = await unary(client('grpc-hello-node.default.example.com'), 'SayHello', { name: 'x' }, { authorization: 'Bearer forged' });
    expect(badToken.err?.code).toBe(grpc.status.PERMISSION_DENIED);
  }, 200_000);

  it("the function's own error status and message pass through unchanged", async () => {
    const r = await unary(client('grpc-hello-node.default.example.com'), 'SayHello', { name: 'fail' }, auth);
    expect(r.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(r.err?.details).toBe('the name "fail" is refused');
  }, 200_000);

  it("the client's deadline is DEADLINE_EXCEEDED and does not recycle the instance", async () => {
    const c = client('grpc-hello-node.default.example.com');
    const before = await unary(c, 'SayHello', { name: 'a' }, auth);
    const r = await unary(c, 'SayHello', { name: 'sleep:3000' }, auth, 400);
    expect(r.err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    // The instance was not blamed: it is still there, not draining, and calls go on.
    const id = before.headers['x-hivelab-instance-id'];
    const fn = (await t.api('GET', '/v1/functions/grpc-hello-node')).json() as { instances: Array<{ id: string; state: string }> };
    expect(fn.instances.find((i) => i.id === id)?.state).toMatch(/^(ready|busy)$/);
    const after = await unary(c, 'SayHello', { name: 'b' }, auth);
    expect(after.err).toBeUndefined();
  }, 200_000);

  it("the function's timeout is DEADLINE_EXCEEDED and recycles the instance (the manifest's 3 s)", async () => {
    const c = client('grpc-slow-node.default.example.com');
    // Warm first (a loaded machine may need more than 3 s for the cold start).
    const warm = await eventually(async () => {
      const w = await unary(c, 'SayHello', { name: 'warm' }, auth);
      return w.err ? undefined : w;
    }, 60_000, 'a warm instance');
    const r = await unary(c, 'SayHello', { name: 'sleep:20000' }, auth);
    expect(r.err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(r.err?.details).toContain('did not answer within 3000 ms');
    const next = await eventually(async () => {
      const w = await unary(c, 'SayHello', { name: 'again' }, auth);
      return w.err ? undefined : w;
    }, 60_000, 'a fresh instance');
    expect(next.headers['x-hivelab-instance-id']).not.toBe(warm.headers['x-hivelab-instance-id']);
  }, 150_000);

  it('a call holds its instance slot while open: with concurrency 1 no instance ever serves two calls at once', async () => {
    const c = client('grpc-hello-node.default.example.com');
    expect((await unary(c, 'SayHello', { name: 'warm' }, auth)).err).toBeUndefined();
    const [a, b] = await Promise.all([unary(c, 'SayHello', { name: 'sleep:1000' }, auth), unary(c, 'SayHello', { name: 'sleep:1000' }, auth)]);
    expect(a.err?.details).toBeUndefined();
    expect(b.err?.details).toBeUndefined();
    // Whether the second call waited for the first or for a new instance depends on start times;
    // either way each instance served one call at a time.
    expect(a.reply!.message).toMatch(/ with 1 in flight$/);
    expect(b.reply!.message).toMatch(/ with 1 in flight$/);
  }, 200_000);

  it('a crashing function is UNAVAILABLE with the crash named; the next call gets a fresh instance', async () => {
    const c = client('grpc-hello-node.default.example.com');
    const r = await unary(c, 'SayHello', { name: 'crash' }, auth);
    expect(r.err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.err?.details).toMatch(/died while serving the request/);
    const next = await unary(c, 'SayHello', { name: 'ok' }, auth);
    expect(next.err).toBeUndefined();
  }, 200_000);

  it('a gRPC call shows in the trace and the metrics like an HTTP invocation', async () => {
    const r = await unary(client('grpc-hello-node.default.example.com'), 'SayHello', { name: 'traced' }, auth);
    expect(r.err).toBeUndefined();
    const trace = await eventually(async () => {
      const res = await t.api('GET', `/v1/traces/${r.headers['x-hivelab-invocation-id']}`);
      return res.status === 200 ? res.json() : undefined;
    }, 10_000, 'the trace');
    const spans = trace.spans as Array<{ name: string; parentSpanId?: string; attributes: Record<string, unknown> }>;
    const root = spans.find((s) => !s.parentSpanId)!;
    expect(root.attributes['rpc.system']).toBe('grpc');
    expect(root.attributes['rpc.method']).toBe('/helloworld.Greeter/SayHello');
    expect(root.attributes['rpc.grpc.status_code']).toBe(0);
    expect(spans.some((s) => s.name === 'function.process')).toBe(true);
  }, 200_000);

  it('HTTP/1.1 and plain HTTP/2 requests still work on the same port; an HTTP function refuses gRPC', async () => {
    expect((await t.api('GET', '/v1/health')).status).toBe(200);
    const session = h2connect(t.platform.url);
    try {
      const status = await new Promise<number>((resolveStatus, reject) => {
        const req = session.request({ ':path': '/v1/health' });
        req.once('response', (h) => resolveStatus(Number(h[':status'])));
        req.once('error', reject);
        req.end();
      });
      expect(status).toBe(200);
    } finally {
      session.close();
    }
  }, 200_000);
});
