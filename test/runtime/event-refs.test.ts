import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SandboxInstance } from '../../src/sandbox/backend.js';
import { ProcessBackend } from '../../src/sandbox/process-backend.js';
import { buildRuntime, fixtureSpec, invokeJson, makeTempDir, removeDir } from '../sandbox/helpers.js';

/**
 * Events passed by reference: the shim asks the instance's sidecar (a stand-in serving the SDK's
 * sidecar protocol on <runDir>/qp.sock, i.e. /run/hivelab/qp.sock inside) for the object and hands
 * the handler the object itself.
 */
let work: string;
let backend: ProcessBackend;
const instances: SandboxInstance[] = [];
const sidecars: Server[] = [];

beforeAll(() => {
  work = makeTempDir('event-refs');
  backend = new ProcessBackend({ runtimeDir: buildRuntime(join(work, 'dist')) });
});
afterAll(async () => {
  for (const i of instances) await i.stop();
  for (const s of sidecars) await new Promise((r) => s.close(r));
  removeDir(work);
});

async function startWithSidecar(fixture: string): Promise<{ inst: SandboxInstance; gets: string[] }> {
  const spec = fixtureSpec(fixture, work);
  const gets: string[] = [];
  const sidecar = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      // Like the real sidecar, every answer carries a content-length (the Node SDK reads objects
      // straight into a buffer of that size).
      const reply = (status: number, obj: unknown): void => {
        const text = JSON.stringify(obj);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
      };
      if (req.url === '/v1/get' && body === 'ref-ok') {
        gets.push(body);
        reply(200, { op: 'echo', pulled: true });
      } else {
        reply(404, { error: { type: 'XdtRefExpired', message: 'gone' } });
      }
    });
  });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(spec.runDir, { recursive: true });
  await new Promise<void>((r) => sidecar.listen(join(spec.runDir, 'qp.sock'), r));
  sidecars.push(sidecar);
  const inst = await backend.start(spec);
  instances.push(inst);
  return { inst, gets };
}

describe.each(['sandbox-node-hello', 'sandbox-python-hello'])('%s: reference events', (fixture) => {
  test('a {"$ref"} event reaches the handler as the object behind it', async () => {
    const { inst, gets } = await startWithSidecar(fixture);
    const r = await invokeJson(inst.socketPath, { $ref: 'ref-ok' });
    expect(r.status).toBe(200);
    expect(r.json().event).toEqual({ op: 'echo', pulled: true });
    expect(gets).toEqual(['ref-ok']);
    // An unknown reference fails the invocation with the sidecar's error type.
    const bad = await invokeJson(inst.socketPath, { $xdt: 'ref-gone' });
    expect(bad.status).toBe(500);
    expect(bad.headers['x-hivelab-error']).toBe('handler');
    expect(bad.json().error.type).toBe('XdtRefExpired');
    // Ordinary objects are left alone.
    expect((await invokeJson(inst.socketPath, { op: 'x', $ref: 'not-alone' })).json().event).toEqual({ op: 'x', $ref: 'not-alone' });
  });
});
