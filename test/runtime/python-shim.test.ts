import { join } from 'node:path';
import { connect } from 'node:net';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SandboxInstance } from '../../src/sandbox/backend.js';
import { ProcessBackend } from '../../src/sandbox/process-backend.js';
import { buildRuntime, callShim, fixtureSpec, invokeJson, makeTempDir, removeDir } from '../sandbox/helpers.js';

// The Python runtime shim, driven over its Unix socket inside a real sandbox.
let work: string;
let instance: SandboxInstance;

beforeAll(async () => {
  work = makeTempDir('py-shim');
  const backend = new ProcessBackend({ runtimeDir: buildRuntime(join(work, 'dist')) });
  instance = await backend.start(fixtureSpec('sandbox-python-hello', work));
});

afterAll(async () => {
  await instance?.stop();
  removeDir(work);
});

/** Sends raw bytes on a fresh connection and returns everything the server sent until it closed. */
function rawExchange(socketPath: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let data = '';
    sock.on('data', (d) => (data += d.toString()));
    sock.on('end', () => resolve(data));
    sock.on('error', reject);
    sock.end(request);
  });
}

describe('python shim protocol', () => {
  test('JSON event in, JSON out, with the context of the contract', async () => {
    const r = await invokeJson(instance.socketPath, { op: 'echo', n: [1, 2] }, {
      'x-hivelab-invocation-id': 'inv-7',
      'x-hivelab-deadline': String(Date.now() + 60_000),
    });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    const out = r.json();
    expect(out.event).toEqual({ op: 'echo', n: [1, 2] });
    expect(out.greeting).toBe('hello');
    expect(out.invocationId).toBe('inv-7');
    expect(out.functionName).toBe('sandbox-python-hello');
    expect(out.instanceId).toBe(instance.instanceId);
    expect(out.memoryLimitMB).toBe(128);
    expect(out.remainingMs).toBeGreaterThan(0);
    expect(out.remainingMs).toBeLessThanOrEqual(60_000);
    expect(out.sdk).toEqual([true, true, true]);
  });

  test('bytes in, bytes out; str is text/plain; None is null', async () => {
    const r = await callShim(instance.socketPath, '/invoke', Buffer.from([0, 1, 2, 255]), { 'content-type': 'application/octet-stream' });
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect([...r.body]).toEqual([255, 2, 1, 0]);
    const text = await invokeJson(instance.socketPath, { op: 'text' });
    expect(text.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(text.body.toString()).toBe('plain text');
    const none = await invokeJson(instance.socketPath, { op: 'nothing' });
    expect(none.body.toString()).toBe('null');
    const empty = await callShim(instance.socketPath, '/invoke', '', { 'content-type': 'application/json' });
    expect(empty.json()).toEqual({ ok: true, event: null });
  });

  test('a handler exception becomes 500 with x-hivelab-error and the error structure', async () => {
    const r = await invokeJson(instance.socketPath, { op: 'throw', what: 'y' });
    expect(r.status).toBe(500);
    expect(r.headers['x-hivelab-error']).toBe('handler');
    const { error } = r.json();
    expect(error.type).toBe('ValidationError');
    expect(error.message).toBe('bad input: y');
    expect(error.stack).toContain('/var/task/main.py');
    expect((await invokeJson(instance.socketPath, { op: 'text' })).status).toBe(200);
  });

  test('concurrency > 1: two invocations are inside the handler at the same time', async () => {
    // The handler waits on a 2-party barrier: a serialising server would break it (60 s timeout).
    const [a, b] = await Promise.all([invokeJson(instance.socketPath, { op: 'barrier' }), invokeJson(instance.socketPath, { op: 'barrier' })]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.json().thread).not.toBe(b.json().thread);
  });

  test('keep-alive and chunked request bodies', async () => {
    const client = new Client('http://localhost', { socketPath: instance.socketPath });
    try {
      for (let i = 0; i < 20; i++) expect((await invokeJson(instance.socketPath, { i }, {}, client)).json()).toEqual({ ok: true, event: { i } });
    } finally {
      await client.close();
    }
    const body = JSON.stringify({ chunked: true });
    const half = Math.floor(body.length / 2);
    const chunks = [body.slice(0, half), body.slice(half)].map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('');
    const raw = await rawExchange(
      instance.socketPath,
      `POST /invoke HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n${chunks}0\r\n\r\n`,
    );
    expect(raw.startsWith('HTTP/1.1 200')).toBe(true);
    expect(raw.slice(raw.indexOf('\r\n\r\n') + 4)).toBe(JSON.stringify({ ok: true, event: { chunked: true } }));
  });

  test('malformed requests get 400, unknown routes 404, healthz ok', async () => {
    expect((await rawExchange(instance.socketPath, 'garbage\r\n\r\n')).startsWith('HTTP/1.1 400')).toBe(true);
    const bad = await callShim(instance.socketPath, '/invoke', '{nope', { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect((await callShim(instance.socketPath, '/nowhere', '')).status).toBe(404);
    expect((await callShim(instance.socketPath, '/healthz', undefined, {}, 'GET')).body.toString()).toBe('ok');
  });

  test('restored: reseeds random; malformed seed is a 400', async () => {
    const bad = await callShim(instance.socketPath, '/_hivelab/restored', JSON.stringify({ seed: 'abc' }), { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    const outputs = [];
    for (const seed of ['aa'.repeat(32), 'bb'.repeat(32)]) {
      const ok = await callShim(instance.socketPath, '/_hivelab/restored', JSON.stringify({ seed }), { 'content-type': 'application/json' });
      expect(ok.status).toBe(200);
      outputs.push((await invokeJson(instance.socketPath, { op: 'random' })).json());
    }
    expect(outputs[0].random).not.toEqual(outputs[1].random);
  });
});
