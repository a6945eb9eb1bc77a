import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { stat, writeFile, mkdir, readFile } from 'node:fs/promises';
import { Pool } from 'undici';
import { startTestPlatform, removeState, FIXTURES, EXAMPLES, eventually, type TestPlatform } from './harness.js';
import { scratchDir } from '../helpers/scratch.js';

describe('deploy and invoke sandboxed functions', () => {
  let t: TestPlatform;

  beforeAll(async () => {
    t = await startTestPlatform();
    for (const f of ['echo-node', 'echo-python']) expect((await t.deploy(join(FIXTURES, f))).status).toBe(201);
    for (const f of ['hello-node', 'hello-python', 'numpy-stats']) expect((await t.deploy(join(EXAMPLES, f))).status).toBe(201);
  });
  afterAll(async () => {
    await t?.stop();
    await removeState(t.stateDir);
  });

  for (const fn of ['echo-node', 'echo-python']) {
    it(`${fn}: first invocation is cold, the next warm on the same instance with its state`, async () => {
      const first = await t.invoke(fn, { n: 1 });
      expect(first.status).toBe(200);
      expect(first.headers['x-hivelab-cold']).toBe('1');
      expect(first.headers['x-hivelab-invocation-id']).toMatch(/^[0-9a-f]{16}$/);
      const instance = first.headers['x-hivelab-instance-id'];
      expect(instance).toMatch(new RegExp(`^${fn}-`));
      expect(first.json()).toMatchObject({ event: { n: 1 }, calls: 1, instanceId: instance });

      const second = await t.invoke(fn, { n: 2 });
      expect(second.status).toBe(200);
      expect(second.headers['x-hivelab-cold']).toBe('0');
      expect(second.headers['x-hivelab-instance-id']).toBe(instance);
      expect(second.json()).toMatchObject({ event: { n: 2 }, calls: 2 });
      expect(second.headers['x-hivelab-invocation-id']).not.toBe(first.headers['x-hivelab-invocation-id']);
    });

    it(`${fn}: raw bytes in, raw bytes out`, async () => {
      const payload = Buffer.from([0, 1, 2, 250, 255]);
      const r = await t.invoke(fn, undefined, { raw: payload, contentType: 'application/octet-stream' });
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('application/octet-stream');
      expect(r.body).toEqual(Buffer.concat([Buffer.from('echo:'), payload]));
    });

    it(`${fn}: a handler exception is a 502 with a structured error`, async () => {
      const r = await t.invoke(fn, { fail: 'on purpose' });
      expect(r.status).toBe(502);
      const { error } = r.json();
      expect(error.type).toBe(fn === 'echo-node' ? 'TypeError' : 'KeyError');
      expect(error.message).toContain('on purpose');
      expect(error.stack).toMatch(fn === 'echo-node' ? /index\.mjs/ : /main\.py/);
      // The instance survives a handler error.
      expect((await t.invoke(fn, { after: true })).status).toBe(200);
    });
  }

  it('passes the manifest env to the instance', async () => {
    expect((await t.invoke('echo-python', {})).json().greeting).toBe('bonjour');
  });

  it('runs the examples, including one that imports numpy', async () => {
    expect((await t.invoke('hello-node', { name: 'Ada' })).json().message).toBe('Hello, Ada!');
    expect((await t.invoke('hello-python', { name: 'Ada' })).json().message).toBe('Hello, Ada!');
    const stats = (await t.invoke('numpy-stats', { values: [1, 2, 3, 4] })).json();
    expect(stats).toMatchObject({ count: 4, mean: 2.5, min: 1, max: 4 });
  });

  it('starts several instances for concurrent requests to a concurrency-1 function', async () => {
    const replies = await Promise.all(Array.from({ length: 4 }, (_, i) => t.invoke('echo-node', { sleepMs: 400, i })));
    for (const r of replies) expect(r.status).toBe(200);
    const instances = new Set(replies.map((r) => r.headers['x-hivelab-instance-id']));
    expect(instances.size).toBeGreaterThanOrEqual(2);
    const desc = (await t.api('GET', '/v1/functions/echo-node')).json();
    expect(desc.instances.length).toBeGreaterThanOrEqual(instances.size);
    const running = desc.instances.filter((i: { state: string }) => i.state === 'ready' || i.state === 'busy');
    expect(running.length).toBeGreaterThan(0);
    for (const i of running) expect(i.memoryBytes).toBeGreaterThan(0);
  });

  it('lists, describes and removes functions through the admin API', async () => {
    const list = (await t.api('GET', '/v1/functions')).json();
    expect(list.functions.map((f: { name: string }) => f.name)).toEqual(
      expect.arrayContaining(['echo-node', 'echo-python', 'hello-node', 'hello-python', 'numpy-stats']),
    );
    const again = await t.deploy(join(EXAMPLES, 'hello-node'));
    expect(again.status).toBe(200);
    expect(again.json().changed).toBe(false);
    expect((await t.api('DELETE', '/v1/functions/hello-node')).status).toBe(200);
    expect((await t.invoke('hello-node', {})).status).toBe(404);
    expect((await t.api('GET', '/v1/functions/hello-node')).status).toBe(404);
  });

  it('redeploying changed code routes new invocations to the new version', async () => {
    const src = await scratchDir('hivelab-fn-');
    const write = (v: number) =>
      Promise.all([
        writeFile(join(src, 'function.json'), JSON.stringify({ name: 'versioned', runtime: 'node', handler: 'index.handler' })),
        writeFile(join(src, 'index.mjs'), `export async function handler() { return { v: ${v} }; }`),
      ]);
    await write(1);
    expect((await t.deploy(src)).status).toBe(201);
    expect((await t.invoke('versioned')).json()).toEqual({ v: 1 });
    await write(2);
    const r = await t.deploy(src);
    expect(r.status).toBe(201);
    expect(r.json().changed).toBe(true);
    expect((await t.invoke('versioned')).json()).toEqual({ v: 2 });
  });

  it('pads a function folder with paddingMB of random content', async () => {
    const src = await scratchDir('hivelab-pad-');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'function.json'), JSON.stringify({ name: 'padded', runtime: 'node', handler: 'index.handler', paddingMB: 3 }));
    await writeFile(join(src, 'index.mjs'), `import { statSync } from 'node:fs'; export async function handler() { return { size: statSync('/var/task/.hivelab-padding').size }; }`);
    expect((await t.deploy(src)).status).toBe(201);
    expect((await t.invoke('padded')).json().size).toBe(3 * 1024 * 1024);
  });

  it('serves the same API on its Unix socket, tokens included', async () => {
    const info = JSON.parse(await readFile(join(t.stateDir, 'platform.json'), 'utf8'));
    expect(info.socket).toBe(t.platform.socket);
    const client = new Pool('http://localhost', { socketPath: t.platform.socket });
    try {
      const call = async (token?: string) => {
        const res = await client.request({ path: '/invoke/echo-node', method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: '{"via":"uds"}' });
        return { status: res.statusCode, body: await res.body.json() as any };
      };
      expect((await call()).status).toBe(401);
      const ok = await call(t.platform.tokens.invoke);
      expect(ok.status).toBe(200);
      expect(ok.body.event).toEqual({ via: 'uds' });
    } finally {
      await client.close();
    }
  });

  it('writes the tokens with mode 0600', async () => {
    expect((await stat(join(t.stateDir, 'tokens.json'))).mode & 0o777).toBe(0o600);
  });

  it('keeps the instance log', async () => {
    await eventually(async () => (await stat(join(t.stateDir, 'logs', 'echo-node')).catch(() => null)) !== null, 10_000, 'log folder');
  });
});
