import { join } from 'node:path';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SandboxInstance } from '../../src/sandbox/backend.js';
import { ProcessBackend } from '../../src/sandbox/process-backend.js';
import { buildRuntime, callShim, fixtureSpec, invokeJson, makeTempDir, removeDir } from '../sandbox/helpers.js';

// The Node runtime shim, driven over its Unix socket inside a real sandbox.
let work: string;
let instance: SandboxInstance;

beforeAll(async () => {
  work = makeTempDir('node-shim');
  const backend = new ProcessBackend({ runtimeDir: buildRuntime(join(work, 'dist')) });
  instance = await backend.start(fixtureSpec('sandbox-node-hello', work));
});

afterAll(async () => {
  await instance?.stop();
  removeDir(work);
});

describe('node shim protocol', () => {
  test('JSON event in, JSON out, with the context of the contract', async () => {
    const deadline = Date.now() + 60_000;
    const r = await invokeJson(instance.socketPath, { op: 'echo', n: [1, 2] }, {
      'x-hivelab-invocation-id': 'inv-42',
      'x-hivelab-deadline': String(deadline),
    });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    const out = r.json();
    expect(out.event).toEqual({ op: 'echo', n: [1, 2] });
    expect(out.greeting).toBe('hello'); // manifest env reaches the handler
    expect(out.invocationId).toBe('inv-42');
    expect(out.functionName).toBe('sandbox-node-hello');
    expect(out.instanceId).toBe(instance.instanceId);
    expect(out.memoryLimitMB).toBe(128);
    expect(out.remainingMs).toBeGreaterThan(0);
    expect(out.remainingMs).toBeLessThanOrEqual(60_000);
    expect(out.sdk).toEqual(['function', 'function', 'function']);
  });

  test('bytes in, bytes out', async () => {
    const payload = Buffer.from([0, 1, 2, 255, 254]);
    const r = await callShim(instance.socketPath, '/invoke', payload, { 'content-type': 'application/octet-stream' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect([...r.body]).toEqual([254, 255, 2, 1, 0]);
  });

  test('string result is text/plain, undefined is JSON null, empty JSON body is null', async () => {
    const text = await invokeJson(instance.socketPath, { op: 'text' });
    expect(text.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(text.body.toString()).toBe('plain text');
    const nothing = await invokeJson(instance.socketPath, { op: 'nothing' });
    expect(nothing.headers['content-type']).toBe('application/json');
    expect(nothing.body.toString()).toBe('null');
    const empty = await callShim(instance.socketPath, '/invoke', '', { 'content-type': 'application/json' });
    expect(empty.json()).toEqual({ ok: true, event: null });
  });

  test('a handler exception becomes 500 with x-hivelab-error and the error structure', async () => {
    const r = await invokeJson(instance.socketPath, { op: 'throw', what: 'x' });
    expect(r.status).toBe(500);
    expect(r.headers['x-hivelab-error']).toBe('handler');
    const { error } = r.json();
    expect(error.type).toBe('ValidationError');
    expect(error.message).toBe('bad input: x');
    expect(error.stack).toContain('/var/task/index.mjs');
    // The instance survives a handler error.
    expect((await invokeJson(instance.socketPath, { op: 'text' })).status).toBe(200);
  });

  test('malformed JSON is a 400, unknown routes 404, healthz ok', async () => {
    const bad = await callShim(instance.socketPath, '/invoke', '{nope', { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(bad.headers['x-hivelab-error']).toBe('bad-request');
    expect((await callShim(instance.socketPath, '/nowhere', '')).status).toBe(404);
    const health = await callShim(instance.socketPath, '/healthz', undefined, {}, 'GET');
    expect(health.status).toBe(200);
    expect(health.body.toString()).toBe('ok');
  });

  test('keep-alive: many invocations over one connection, and concurrent ones', async () => {
    const client = new Client('http://localhost', { socketPath: instance.socketPath, pipelining: 1 });
    try {
      for (let i = 0; i < 20; i++) {
        const r = await invokeJson(instance.socketPath, { i }, {}, client);
        expect(r.json()).toEqual({ ok: true, event: { i } });
      }
      const many = await Promise.all(Array.from({ length: 8 }, (_, i) => invokeJson(instance.socketPath, { i })));
      expect(many.map((r) => r.json().event.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    } finally {
      await client.close();
    }
  });

  test('restored: accepts a seed, rejects a malformed one; generators keep working afterwards', async () => {
    const bad = await callShim(instance.socketPath, '/_hivelab/restored', JSON.stringify({ seed: 'xyz' }), { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    const seeds = ['11'.repeat(32), '22'.repeat(32)];
    const outputs = [];
    for (const seed of seeds) {
      const ok = await callShim(instance.socketPath, '/_hivelab/restored', JSON.stringify({ seed }), { 'content-type': 'application/json' });
      expect(ok.status).toBe(200);
      outputs.push((await invokeJson(instance.socketPath, { op: 'random' })).json());
    }
    for (const o of outputs) {
      expect(o.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(o.webUuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      for (const x of o.math) expect(x >= 0 && x < 1).toBe(true);
      expect(o.int).toBeGreaterThanOrEqual(0);
      expect(o.int).toBeLessThan(2 ** 40);
    }
    expect(outputs[0].uuid).not.toBe(outputs[1].uuid);
    expect(outputs[0].math).not.toEqual(outputs[1].math);
    expect(outputs[0].bytes).not.toBe(outputs[1].bytes);
  });
});

describe('node shim handler loading', () => {
  let backend: ProcessBackend;
  const extra: SandboxInstance[] = [];
  beforeAll(() => {
    backend = new ProcessBackend({ runtimeDir: join(work, 'dist/runtime') });
  });
  afterAll(async () => {
    for (const i of extra) await i.stop();
  });

  test('a CommonJS handler in a subfolder; crypto destructured at load is still reseedable', async () => {
    const inst = await backend.start(fixtureSpec('sandbox-node-cjs', work));
    extra.push(inst);
    const out = (await invokeJson(inst.socketPath, { a: 1 })).json();
    expect(out.kind).toBe('object');
    expect(out.event).toEqual({ a: 1 });
    expect(out.wrapped).toEqual([true, true]);
  });

  test('an ES module with top-level await loads through import()', async () => {
    const inst = await backend.start(fixtureSpec('sandbox-node-tla', work));
    extra.push(inst);
    expect((await invokeJson(inst.socketPath, {})).json()).toEqual({ answer: 42 });
  });
});
