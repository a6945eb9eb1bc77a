/**
 * Deploy and delete (issue 18): a folder whose function name collides with a deployed function
 * silently replaced it; deleting a function while it served ended its requests as crashes; a
 * function.json linked to /etc/shadow was refused with the file's first characters in the error;
 * paddingMB up to 4096 and unbounded minScale let one deploy reserve the machine.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { startTestPlatform, removeState, FIXTURES, eventually, type TestPlatform } from '../platform/harness.js';

describe('deploy and delete', () => {
  let t: TestPlatform;
  const dirs: string[] = [];
  const copyOf = async (fixture: string, edit?: (m: Record<string, unknown>) => void): Promise<string> => {
    const d = await mkdtemp(join(tmpdir(), 'hivelab-deploy-'));
    dirs.push(d);
    await cp(join(FIXTURES, fixture), d, { recursive: true });
    if (edit) {
      const m = JSON.parse(await readFile(join(d, 'function.json'), 'utf8')) as Record<string, unknown>;
      edit(m);
      await writeFile(join(d, 'function.json'), JSON.stringify(m));
    }
    return d;
  };

  beforeAll(async () => {
    t = await startTestPlatform({ workers: 1, workerMemoryBudgetMB: 4096, dataServices: false });
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    if (t) await removeState(t.stateDir);
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('a function of the same name from another folder is not replaced without replace', async () => {
    const a = await copyOf('echo-node');
    const b = await copyOf('echo-node', (m) => (m.description = 'another team'));
    expect((await t.deploy(a)).status).toBe(201);
    const r = await t.deploy(b);
    expect(r.status).toBe(409);
    expect(r.json().error.type).toBe('FunctionExists');
    expect(r.json().error.message).toContain(a);
    expect((await t.api('GET', '/v1/functions/echo-node')).json().sourceDir).toBe(a);
    // the same folder again is an update, and replace: true takes the other folder
    await writeFile(join(a, 'extra.txt'), 'v2');
    expect((await t.deploy(a)).status).toBe(201);
    const replaced = await t.api('POST', '/v1/functions', { path: b, replace: true });
    expect(replaced.status).toBe(201);
    expect((await t.api('GET', '/v1/functions/echo-node')).json().sourceDir).toBe(b);
    expect((await t.api('DELETE', '/v1/functions/echo-node')).status).toBe(200);
  }, 30_000);

  it('a function.json that is a symbolic link is refused without a byte of its target', async () => {
    const d = await mkdtemp(join(tmpdir(), 'hivelab-deploy-'));
    dirs.push(d);
    const secret = join(d, '..', `not-json-${Date.now()}`);
    await writeFile(secret, 'root:$y$j9T$SECRETHASH:19000:0:99999:7:::\n', { mode: 0o600 });
    await writeFile(join(d, 'index.mjs'), 'export const handler = () => 1;');
    for (const target of ['/etc/shadow', secret]) {
      await rm(join(d, 'function.json'), { force: true });
      await symlink(target, join(d, 'function.json'));
      const r = await t.deploy(d);
      expect(r.status).toBe(400);
      expect(r.json().error.message).toMatch(/symbolic link/);
      expect(r.body.toString()).not.toMatch(/root|SECRET|\$y\$/);
    }
    // a regular manifest that is not JSON: the error gives the position, not the text
    await rm(join(d, 'function.json'));
    await writeFile(join(d, 'function.json'), 'root:$y$j9T$SECRETHASH');
    const r = await t.deploy(d);
    expect(r.status).toBe(400);
    expect(r.json().error.message).toMatch(/not valid JSON/);
    expect(r.body.toString()).not.toMatch(/root|SECRET/);
    await rm(secret, { force: true });
  });

  it('everything a manifest can reserve is bounded, with errors naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ paddingMB: 4096 }, 'paddingMB'],
      [{ memoryMB: 16384 }, 'memoryMB'],
      [{ memoryMB: 8192 }, 'memoryMB'], // within the schema, over this worker's 4096 MB budget
      [{ concurrency: 100_000 }, 'concurrency'],
      [{ timeoutMs: 24 * 3600_000 }, 'timeoutMs'],
      [{ scaling: { minScale: 10_000 } }, 'scaling.minScale'],
      [{ scaling: { initialScale: 10_000 } }, 'scaling.initialScale'],
      [{ scaling: { maxScale: 1_000_000 } }, 'scaling.maxScale'],
      [{ memoryMB: 1024, scaling: { minScale: 3 } }, 'scaling.minScale'], // 3 GB > half of 4 GB
      [{ env: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`V${i}`, 'x'])) }, 'env'],
    ];
    for (const [fields, field] of cases) {
      const d = await copyOf('echo-node', (m) => Object.assign(m, { name: 'greedy' }, fields));
      const r = await t.deploy(d);
      expect(r.status, JSON.stringify(fields)).toBe(400);
      expect(r.json().error.type).toBe('InvalidManifest');
      expect(r.json().error.field, JSON.stringify(fields)).toBe(field);
    }
    expect((await t.api('GET', '/v1/functions')).json().functions.map((f: { name: string }) => f.name)).not.toContain('greedy');
  }, 60_000);

  it('deleting a function while it serves lets in-flight requests finish; later ones get FunctionDeleted', async () => {
    const d = await copyOf('burst-node');
    expect((await t.deploy(d)).status).toBe(201);
    expect((await t.invoke('burst-node', { ms: 1 })).status).toBe(200);
    const inFlight = Array.from({ length: 3 }, (_, i) => t.invoke('burst-node', { i, ms: 1500 }));
    await eventually(async () => t.platform.control.controller('burst-node')!.instances.some((i) => i.inFlight > 0), 20_000, 'requests in flight');
    const removed = t.api('DELETE', '/v1/functions/burst-node');
    const replies = await Promise.all(inFlight);
    for (const r of replies) {
      // served by the draining instance, or (if still buffered at the deletion) refused as deleted
      if (r.status !== 200) {
        expect(r.status).toBe(410);
        expect(r.json().error.type).toBe('FunctionDeleted');
      }
    }
    expect(replies.some((r) => r.status === 200)).toBe(true);
    expect(replies.map((r) => r.json().error?.type)).not.toContain('InstanceCrashed');
    expect((await removed).status).toBe(200);
    expect((await t.invoke('burst-node', {})).status).toBe(404);
  }, 60_000);

  it('a request still running when the grace period ends gets FunctionDeleted, not InstanceCrashed', async () => {
    const d = await copyOf('burst-node', (m) => Object.assign(m, { name: 'slow-node' }));
    expect((await t.deploy(d)).status).toBe(201);
    const running = t.invoke('slow-node', { ms: 20_000 });
    await eventually(async () => t.platform.control.controller('slow-node')?.instances.some((i) => i.inFlight > 0), 30_000, 'request in flight');
    expect((await t.api('DELETE', '/v1/functions/slow-node?graceMs=abc')).status).toBe(400);
    // a grace of 200 ms: the 20 s request outlives it
    expect((await t.api('DELETE', '/v1/functions/slow-node?graceMs=200')).status).toBe(200);
    const r = await running;
    expect(r.status).toBe(410);
    expect(r.json().error.type).toBe('FunctionDeleted');
  }, 60_000);
});
