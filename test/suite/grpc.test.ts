import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import suite from '../../src/cli/commands/suite.js';
import { sampleInput, selectFunctions } from '../../src/suite/catalogue.js';
import { checkFunction, checkSuite } from '../../src/suite/check.js';
import { GrpcCallError, PlatformInvoker, readEndpoint } from '../../src/suite/platform-invoker.js';
import type { SuiteFunction } from '../../src/suite/types.js';
import { parsePythonBytes, validateHelloworldGrpc, validateVswarmAes, validateVswarmAuth, validateVswarmFibonacci } from '../../src/suite/validators/vswarm.js';
import { removeState, startTestPlatform, type TestPlatform } from '../platform/harness.js';

/**
 * The function suite over gRPC: vSwarm's servers deployed as folders (examples/vswarm) on a real
 * platform, called with one unary call each through the gateway's h2c port, the reply decoded from
 * protobuf and validated; a function that answers wrongly, or with an error status, fails with the
 * reason.
 */

let t: TestPlatform;
let invoker: PlatformInvoker;
let work: string;
const fn = (name: string): SuiteFunction => selectFunctions([name])[0]!;

beforeAll(async () => {
  t = await startTestPlatform();
  invoker = new PlatformInvoker(await readEndpoint(t.stateDir));
  work = await mkdtemp(join(tmpdir(), 'hivelab-suite-grpc-'));
}, 180_000);

afterAll(async () => {
  await invoker?.close();
  await t?.stop();
  if (t) await removeState(t.stateDir);
  if (work) await rm(work, { recursive: true, force: true });
}, 180_000);

async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
  const err = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    return { code: await suite.run(argv), out: lines.join('\n') };
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
}

describe('the suite drives gRPC functions', () => {
  it("checks vSwarm's fibonacci and aes (Python): deployed as folders, cold then warm, replies decoded and validated", async () => {
    const results = await checkSuite([fn('vswarm-fibonacci-python'), fn('vswarm-aes-python')], invoker);
    for (const r of results) {
      expect(r.error, r.name).toBeUndefined();
      expect(r).toMatchObject({ protocol: 'grpc', runtime: 'python', ok: true, coldObserved: true });
      expect(r.coldMs).toBeGreaterThan(0);
      expect(r.warmMs).toBeGreaterThan(0);
      expect(r.rssMB).toBeGreaterThan(0);
    }
    // deployed under the suite's name, not the folder's (functions/fibonacci-python is the HTTP one)
    const listed = (await t.api('GET', '/v1/functions')).json() as { functions: Array<{ name: string; manifest: { protocol: string } }> };
    expect(listed.functions.find((f) => f.name === 'vswarm-fibonacci-python')?.manifest.protocol).toBe('grpc');
    expect(listed.functions.some((f) => f.name === 'fibonacci-python')).toBe(false);
  }, 300_000);

  it('`hivelab suite check --state` runs them through a running platform (Node servers too)', async () => {
    const { code, out } = await cli(['check', '--state', t.stateDir, '--only', 'vswarm-auth-nodejs,grpc-echo', '--json']);
    const report = JSON.parse(out) as { functions: Array<Record<string, unknown>> };
    expect(report.functions.map((f) => [f.name, f.protocol, f.ok, f.error])).toEqual([
      ['vswarm-auth-nodejs', 'grpc', true, undefined],
      ['grpc-echo', 'grpc', true, undefined],
    ]);
    expect(code).toBe(0);
  }, 300_000);

  it('a function that answers wrongly fails with what is wrong', async () => {
    // vSwarm's fibonacci with an off-by-one answer: same name, same proto, its reply is still well-formed
    const dir = join(work, 'fibonacci-python');
    await cp(fn('vswarm-fibonacci-python').dir, dir, { recursive: true });
    const server = await readFile(join(dir, 'server.py'), 'utf8');
    expect(server).toContain('y = fibonacci(x)\n');
    await writeFile(join(dir, 'server.py'), server.replace('y = fibonacci(x)\n', 'y = fibonacci(x) + 1\n'));
    const r = await checkFunction({ ...fn('vswarm-fibonacci-python'), dir }, invoker);
    expect(r.ok).toBe(false);
    expect(r.coldMs).toBeGreaterThan(0); // the call itself worked
    expect(r.error).toMatch(/^cold output invalid: fib\(90\) is wrong: got 2880067194370816121, expected 2880067194370816120/);

    const { code, out } = await cli(['check', '--state', t.stateDir, '--only', 'vswarm-auth-python']);
    expect(out).toMatch(/vswarm-auth-python\s+python\s+ok/);
    expect(code).toBe(0);
  }, 300_000);

  it("a function's gRPC error status fails the check with the status, its name and message", async () => {
    // vSwarm's fibonacci parses the name as an int: Python's grpc answers the exception as UNKNOWN
    const r = await checkFunction({ ...fn('vswarm-fibonacci-python'), sample: { name: 'ninety' } }, invoker);
    expect(r.ok).toBe(false);
    expect(r.coldMs).toBeUndefined();
    expect(r.error).toMatch(/^\/fibonacci\.Greeter\/SayHello: grpc-status 2 UNKNOWN: Exception calling application: invalid literal for int\(\) with base 10: 'ninety'/);
  }, 300_000);

  it("the platform's own statuses reach the suite the same way (no such function: UNIMPLEMENTED)", async () => {
    const err = await invoker.invoke({ ...fn('vswarm-auth-nodejs'), name: 'vswarm-nobody' }, { name: 'allow' }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(GrpcCallError);
    expect((err as GrpcCallError).status).toBe(12);
    expect(String((err as Error).message)).toMatch(/grpc-status 12 UNIMPLEMENTED: no function named "vswarm-nobody" is deployed/);
  }, 120_000);

  it('the validators catch replies that real bugs would give', async () => {
    // real replies, then broken ones
    const prepared = new Set<string>();
    const real = async (name: string, event?: Record<string, unknown>) => {
      const f = fn(name);
      if (!prepared.has(name)) {
        await invoker.prepare(f);
        prepared.add(name);
      }
      const e = event ?? (await sampleInput(f));
      const { output } = await invoker.invoke(f, e);
      expect(await f.validate(output, e), name).toEqual([]);
      return { e, out: output as Record<string, string> };
    };
    const fib = await real('vswarm-fibonacci-python', { name: '12' });
    expect(fib.out.message).toBe('fn: Fib: y = fib(x) | x: 12 y: 144 | runtime: python');
    expect(validateVswarmFibonacci(fib.out, { name: '13' }).join()).toMatch(/x: 12, but the request asked for "13"/);
    expect(validateVswarmFibonacci({ message: 'fn: Fib: y = fib(x) | x: 12 y: 145 | runtime: python' }, fib.e).join()).toMatch(/fib\(12\) is wrong/);
    expect(validateVswarmFibonacci({}, fib.e).join()).toMatch(/no "message"/);

    const aes = await real('vswarm-aes-python');
    const info = aes.out.encryption_info!;
    const literal = /ciphertext: (b.*) \| runtime/.exec(info)![1]!;
    const bytes = parsePythonBytes(literal)!;
    expect(bytes.length).toBe(String(aes.e.plaintext_message).length);
    bytes[0]! ^= 1;
    const flipped = `b'${[...bytes].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}'`;
    expect(validateVswarmAes({ encryption_info: info.replace(literal, flipped) }, aes.e).join()).toMatch(/not AES-256-CTR of the plaintext/);
    expect(validateVswarmAes(aes.out, { plaintext_message: 'another message' }).join()).toMatch(/plaintext .* expected "another message"/);
    // vSwarm's default plaintext for an empty message
    const dflt = await real('vswarm-aes-python', { plaintext_message: '' });
    expect(dflt.out.encryption_info).toMatch(/plaintext: defaultplaintext \|/);

    const allow = await real('vswarm-auth-python');
    expect(validateVswarmAuth(allow.out, { name: 'deny-me' }).join()).toMatch(/token "allow" in the reply, "deny-me" sent/);
    await real('vswarm-auth-python', { name: 'someone' }); // vSwarm's Python answers a bare "Unauthorized"
    expect(validateVswarmAuth({ message: 'Unauthorized' }, { name: 'allow' }).join()).toMatch(/token "allow" was answered "Unauthorized"/);
    const nodeDeny = 'fn: Auth | token: allow | resp: {"principalId":"user","policyDocument":{"Statement":[{"Action":"execute-api:Invoke","Effect":"Deny"}]}} | runtime: nodejs';
    expect(validateVswarmAuth({ message: nodeDeny }, { name: 'allow' }).join()).toMatch(/policy Effect "Deny" for token "allow", expected Allow/);

    expect(validateHelloworldGrpc({ message: 'Hello, suite' }, { name: 'suite' })).toEqual([]);
    expect(validateHelloworldGrpc({ message: 'Hello, someone else' }, { name: 'suite' }).join()).toMatch(/expected "Hello, suite"/);
  }, 300_000);
});
