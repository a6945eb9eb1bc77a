import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import suite from '../../src/cli/commands/suite.js';
import { selectFunctions } from '../../src/suite/catalogue.js';
import { LocalInvoker } from '../../src/suite/local-invoker.js';

/**
 * `hivelab suite` against a stand-in platform that follows docs/CONTRACTS.md (bearer tokens, deploy
 * by path, `x-hivelab-cold`, instances' memoryBytes) and runs the real handlers behind it, so the
 * client side of the contract is exercised before the real gateway exists.
 */
const ADMIN = 'admin-token';
const INVOKE = 'invoke-token';
let server: Server;
let state: string;
const deployed = new Map<string, { dir: string; invocations: number }>();
const local = new LocalInvoker();
let corrupt: string | undefined;

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const send = (status: number, value: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value));
    };
    const token = req.headers.authorization?.replace(/^Bearer /, '');
    const [, a, b, name] = (req.url ?? '').split('/');
    try {
      if (a === 'invoke') {
        if (token !== INVOKE && token !== ADMIN) return send(403, { error: { type: 'forbidden', message: 'bad token' } });
        const fn = deployed.get(b!);
        if (!fn) return send(404, { error: { type: 'not-found', message: b } });
        const [suiteFn] = selectFunctions([b!]);
        const cold = fn.invocations++ === 0;
        const { output } = await local.invoke(suiteFn!, (await body(req)) as Record<string, unknown>);
        const shown = corrupt === b ? { ...(output as object), input: undefined } : output;
        return send(200, shown, { 'x-hivelab-cold': cold ? '1' : '0', 'x-hivelab-instance-id': `${b}-i1` });
      }
      if (token !== ADMIN) return send(403, { error: { type: 'forbidden', message: 'admin token required' } });
      if (a === 'v1' && b === 'functions' && !name && req.method === 'POST') {
        const { path, manifest } = (await body(req)) as { path: string; manifest?: { name?: string } };
        const deployedName = manifest?.name ?? basename(path);
        deployed.set(deployedName, { dir: path, invocations: 0 });
        const fn = selectFunctions([deployedName])[0]!;
        if (!fn.grpc) await local.prepare(fn);
        return send(201, { name: deployedName, version: 'v1' });
      }
      if (a === 'v1' && b === 'functions' && name && req.method === 'DELETE') {
        if (!deployed.delete(name)) return send(404, { error: { type: 'not-found', message: name } });
        return send(200, { deleted: name });
      }
      if (a === 'v1' && b === 'functions' && name && req.method === 'GET') {
        return send(200, { name, instances: [{ id: `${name}-i1`, memoryBytes: 42 * 2 ** 20 }, { id: 'other', memoryBytes: 99 * 2 ** 20 }] });
      }
      send(404, { error: { type: 'not-found', message: req.url } });
    } catch (err) {
      send(502, { error: { type: 'handler', message: (err as Error).message } });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state = await mkdtemp(join(tmpdir(), 'hivelab-suite-'));
  await writeFile(join(state, 'tokens.json'), JSON.stringify({ admin: ADMIN, invoke: INVOKE }));
  await writeFile(join(state, 'platform.json'), JSON.stringify({ pid: process.pid, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
});

afterAll(async () => {
  await local.close();
  await new Promise((r) => server?.close(r));
  if (state) await rm(state, { recursive: true, force: true });
});

async function run(argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
  const err = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    const code = await suite.run(argv);
    return { code, out: lines.join('\n') };
  } finally {
    spy.mockRestore();
    err.mockRestore();
  }
}

describe('hivelab suite', () => {
  it('check --json: cold and warm through the HTTP API, validated, with the serving instance memory', async () => {
    const { code, out } = await run(['check', '--state', state, '--only', 'helloworld-python,fibonacci-node', '--json']);
    const report = JSON.parse(out) as { functions: Array<Record<string, unknown>> };
    expect(report.functions.map((f) => [f.name, f.runtime, f.ok])).toEqual([
      ['helloworld-python', 'python', true],
      ['fibonacci-node', 'node', true],
    ]);
    for (const f of report.functions) {
      expect(f.coldMs).toBeGreaterThan(0);
      expect(f.warmMs).toBeGreaterThan(0);
      expect(f.rssMB).toBe(42);
      expect(f.coldObserved).toBe(true);
      expect(f.error).toBeUndefined();
    }
    expect(code).toBe(0);
  });

  it('check reports an invalid output as a failure with the reason', async () => {
    corrupt = 'helloworld-node';
    try {
      const { code, out } = await run(['check', '--state', state, '--only', 'helloworld-node']);
      expect(code).toBe(1);
      expect(out).toMatch(/helloworld-node\s+node\s+FAIL/);
      expect(out).toMatch(/no "input" description/);
    } finally {
      corrupt = undefined;
    }
  });

  it('deploy sends every function folder by path', async () => {
    deployed.clear();
    const { code, out } = await run(['deploy', '--state', state, '--json']);
    expect(code).toBe(0);
    expect((JSON.parse(out) as { functions: unknown[] }).functions).toHaveLength(selectFunctions(undefined).length);
    expect([...deployed.values()].every((d) => d.dir.startsWith('/'))).toBe(true);
    // vSwarm's gRPC folders go by path too, renamed to the suite's names (two share an HTTP function's folder name)
    expect(deployed.get('vswarm-fibonacci-python')?.dir).toMatch(/examples\/vswarm\/fibonacci-python$/);
    expect(deployed.get('fibonacci-python')?.dir).toMatch(/functions\/fibonacci-python$/);
  });

  it('list names each function\'s protocol; check --local leaves the gRPC servers out unless asked', async () => {
    const { out } = await run(['list', '--json']);
    const listed = (JSON.parse(out) as { functions: Array<{ name: string; protocol: string }> }).functions;
    expect(listed.find((f) => f.name === 'vswarm-aes-python')?.protocol).toBe('grpc');
    expect(listed.find((f) => f.name === 'aes')?.protocol).toBe('http');
    const asked = await run(['check', '--local', '--only', 'vswarm-aes-python', '--json']);
    expect(asked.code).toBe(1);
    const [r] = (JSON.parse(asked.out) as { functions: Array<Record<string, unknown>> }).functions;
    expect(r).toMatchObject({ name: 'vswarm-aes-python', protocol: 'grpc', ok: false });
    expect(String(r!.error)).toMatch(/runs on the platform only/);
  });

  it('check --local runs without a platform', async () => {
    const { code, out } = await run(['check', '--local', '--only', 'auth-python,aes']);
    expect(out).toMatch(/auth-python\s+python\s+ok/);
    expect(out).toMatch(/2\/2 functions passed/);
    expect(code).toBe(0);
  });

  it('refuses unknown actions and function names, and explains a missing platform', async () => {
    await expect(run(['frobnicate'])).rejects.toThrow(/unknown action/);
    await expect(run(['check', '--only', 'nope'])).rejects.toThrow(/unknown suite function/);
    await expect(run(['check', '--state', join(state, 'missing')])).rejects.toThrow(/is the platform running/);
    expect((await run(['--help'])).out).toMatch(/Usage: hivelab suite/);
  });
});
