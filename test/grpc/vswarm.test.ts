import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type * as grpc from '@grpc/grpc-js';
import { startTestPlatform, removeState, type TestPlatform } from '../platform/harness.js';
import { greeterClient, unary, PROTOS } from './helpers.js';

const run = promisify(execFile);
const VSWARM = resolve(import.meta.dirname, '../../examples/vswarm');

/**
 * vSwarm's own function servers (Python on Debian's python3-grpcio, Node on @grpc/grpc-js), deployed
 * unchanged but for a no-op tracing module, driven over gRPC through the gateway by stock clients
 * with vSwarm-proto's definitions and Knative's host names.
 */
describe("vSwarm's functions over gRPC", () => {
  let t: TestPlatform;
  let target: string;
  let auth: Record<string, string>;
  const clients: grpc.Client[] = [];
  const client = (fn: string, pkg: string, service: string) => {
    const c = greeterClient(target, `${fn}.default.127.0.0.1.sslip.io:80`, pkg, service);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startTestPlatform();
    target = new URL(t.platform.url).host;
    auth = { authorization: `Bearer ${t.platform.tokens.invoke}` };
    for (const fn of ['fibonacci-python', 'aes-python', 'auth-python', 'fibonacci-nodejs', 'auth-nodejs']) {
      const r = await t.deploy(join(VSWARM, fn));
      expect(r.status, r.body.toString()).toBe(201);
    }
  }, 200_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await t?.stop();
    await removeState(t.stateDir);
  }, 200_000);

  it('fibonacci in Python and in Node', async () => {
    for (const [fn, runtime] of [['fibonacci-python', 'python'], ['fibonacci-nodejs', 'NodeJS']]) {
      const c = client(fn!, 'fibonacci', 'Greeter');
      const cold = await unary(c, 'SayHello', { name: '10' }, auth);
      expect(cold.err?.details).toBeUndefined();
      expect(cold.reply!.message).toBe(`fn: Fib: y = fib(x) | x: 10 y: 55 | runtime: ${runtime}`);
      expect(cold.headers['x-hivelab-cold']).toBe('1');
      const warm = await unary(c, 'SayHello', { name: '90' }, auth);
      expect(warm.reply!.message).toBe(`fn: Fib: y = fib(x) | x: 90 y: 2880067194370816120 | runtime: ${runtime}`);
      expect(warm.headers['x-hivelab-cold']).toBe('0');
    }
  }, 200_000);

  it('aes in Python encrypts with pyaes', async () => {
    const r = await unary(client('aes-python', 'aes', 'Aes'), 'ShowEncryption', { plaintext_message: 'A unique message' }, auth);
    expect(r.err?.details).toBeUndefined();
    expect(r.reply ?? {}).toHaveProperty('encryption_info');
    expect((r.reply as unknown as { encryption_info: string }).encryption_info).toMatch(/^fn: AES \| plaintext: A unique message \| ciphertext: \S+ \| runtime: Python$/);
  }, 200_000);

  it('auth in Node and in Python (driven by Python clients too)', async () => {
    const js = await unary(client('auth-nodejs', 'auth', 'Greeter'), 'SayHello', { name: 'allow' }, auth);
    expect(js.err?.details).toBeUndefined();
    expect(js.reply!.message).toMatch(/^fn: Auth \| token: allow \| resp: [\s\S]*"Effect": "Allow"[\s\S]*runtime: nodejs$/);
    const script = `
import sys, grpc
sys.path.insert(0, ${JSON.stringify(PROTOS + '/..')})
sys.path.insert(0, ${JSON.stringify(PROTOS + '/auth')})
from proto.auth import auth_pb2
import auth_pb2_grpc
ch = grpc.insecure_channel(${JSON.stringify(target)}, options=[("grpc.default_authority", "auth-python.default.svc.cluster.local")])
stub = auth_pb2_grpc.GreeterStub(ch)
print(stub.SayHello(auth_pb2.HelloRequest(name="deny"), metadata=[("authorization", ${JSON.stringify(auth.authorization)})], timeout=150).message)
`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script], { timeout: 180_000 });
    expect(stdout.trim()).toMatch(/^fn: Auth \| token: deny \| resp: \{'principalId': .* \| runtime: python$/);
  }, 200_000);
});
