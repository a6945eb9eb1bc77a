import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { request } from 'undici';
import { Readable } from 'node:stream';
import { startTestPlatform, removeState, FIXTURES, eventually, type TestPlatform } from './harness.js';
import { scratchDir } from '../helpers/scratch.js';

describe('errors end every request with a clear response, and the platform survives them', () => {
  let t: TestPlatform;

  beforeAll(async () => {
    t = await startTestPlatform({ inlineLimitBytes: 64 * 1024 });
    for (const f of ['echo-node', 'crash-node', 'hog-node', 'sleep-node', 'bad-import-node']) {
      expect((await t.deploy(join(FIXTURES, f))).status).toBe(201);
    }
  });
  afterAll(async () => {
    await t?.stop();
    await removeState(t.stateDir);
  });

  it('unknown function: 404', async () => {
    const r = await t.invoke('no-such-function', {});
    expect(r.status).toBe(404);
    expect(r.json().error.type).toBe('NotFound');
    expect(r.json().error.message).toContain('no-such-function');
  });

  it('missing token: 401; wrong token: 403; the invoke token cannot deploy: 403', async () => {
    expect((await t.invoke('echo-node', {}, { token: null })).status).toBe(401);
    expect((await t.invoke('echo-node', {}, { token: 'not-the-token' })).status).toBe(403);
    expect((await t.api('GET', '/v1/functions', undefined, null)).status).toBe(401);
    const r = await t.api('POST', '/v1/functions', { path: join(FIXTURES, 'echo-node') }, t.platform.tokens.invoke);
    expect(r.status).toBe(403);
    expect((await t.invoke('echo-node', {}, { token: t.platform.tokens.admin })).status).toBe(200);
  });

  it('a body over the inline limit is refused with 413 (declared length and chunked)', async () => {
    const big = Buffer.alloc(65 * 1024, 'a');
    const declared = await t.invoke('echo-node', undefined, { raw: big, contentType: 'application/octet-stream' });
    expect(declared.status).toBe(413);
    expect(declared.json().error.type).toBe('PayloadTooLarge');

    const chunked = await request(`${t.platform.url}/invoke/echo-node`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.platform.tokens.invoke}`, 'content-type': 'application/octet-stream' },
      body: Readable.from((function* () {
        for (let i = 0; i < 100; i++) yield Buffer.alloc(1024, 'b');
      })()),
    }).catch((err: Error) => err);
    // Either the 413 arrives, or the connection is cut while still sending: never a 200, never a hang.
    if (!(chunked instanceof Error)) {
      expect(chunked.statusCode).toBe(413);
      await chunked.body.dump();
    }
    expect((await t.invoke('echo-node', { small: true })).status).toBe(200);
  });

  it('a malformed manifest is refused with 400 naming the field', async () => {
    const dir = await scratchDir('hivelab-bad-');
    await writeFile(join(dir, 'function.json'), JSON.stringify({ name: 'bad', runtime: 'ruby', handler: 'x.handler' }));
    const r = await t.deploy(dir);
    expect(r.status).toBe(400);
    expect(r.json().error.type).toBe('InvalidManifest');
    expect(r.json().error.message).toContain('runtime');
    expect(r.json().error.field).toBe('runtime');

    await writeFile(join(dir, 'function.json'), '{ not json');
    const r2 = await t.deploy(dir);
    expect(r2.status).toBe(400);
    expect(r2.json().error.message).toMatch(/not valid JSON/);

    await writeFile(join(dir, 'function.json'), JSON.stringify({ name: 'bad', runtime: 'node', handler: 'index.handler', memoryMB: -5 }));
    expect((await t.deploy(dir)).json().error.field).toBe('memoryMB');
  });

  it('an instance crashing mid-request: 502, and a fresh instance serves the next request', async () => {
    const ok = await t.invoke('crash-node', {});
    expect(ok.status).toBe(200);
    const crashed = await t.invoke('crash-node', { crash: true });
    expect(crashed.status).toBe(502);
    expect(crashed.json().error.type).toBe('InstanceCrashed');
    expect(crashed.headers['x-hivelab-instance-id']).toBe(ok.headers['x-hivelab-instance-id']);
    const after = await t.invoke('crash-node', {});
    expect(after.status).toBe(200);
    expect(after.headers['x-hivelab-instance-id']).not.toBe(ok.headers['x-hivelab-instance-id']);
  });

  it('an instance exceeding its memory limit is killed and reported as such', async () => {
    expect((await t.invoke('hog-node', { mb: 4 })).status).toBe(200);
    const r = await t.invoke('hog-node', { mb: 200 });
    expect(r.status).toBe(502);
    expect(r.json().error.type).toBe('OutOfMemory');
    const again = await t.invoke('hog-node', { mb: 1 });
    expect(again.status).toBe(200);
    expect(again.json().heldMB).toBe(1);
  });

  it('a handler that never returns: 504 after timeoutMs, the instance is recycled', async () => {
    const first = await t.invoke('sleep-node', {});
    expect(first.status).toBe(200);
    const hung = await t.invoke('sleep-node', { hang: true });
    expect(hung.status).toBe(504);
    expect(hung.json().error.type).toBe('Timeout');
    await eventually(async () => {
      const d = (await t.api('GET', '/v1/functions/sleep-node')).json();
      return !d.instances.some((i: { id: string }) => i.id === first.headers['x-hivelab-instance-id']);
    }, 20_000, 'the timed-out instance to be recycled');
    const after = await t.invoke('sleep-node', {});
    expect(after.status).toBe(200);
    expect(after.headers['x-hivelab-instance-id']).not.toBe(first.headers['x-hivelab-instance-id']);
  });

  it('a function whose code cannot load answers 502 with the reason instead of hanging', async () => {
    const r = await t.invoke('bad-import-node', {});
    expect(r.status).toBe(502);
    expect(r.json().error.type).toBe('InstanceStartFailed');
    expect(JSON.stringify(r.json())).toContain('a-package-that-does-not-exist');
  });

  it('the platform still serves after all of the above', async () => {
    const replies = await Promise.all([t.invoke('echo-node', { a: 1 }), t.invoke('crash-node', {}), t.invoke('hog-node', { mb: 1 })]);
    for (const r of replies) expect(r.status).toBe(200);
  });
});
