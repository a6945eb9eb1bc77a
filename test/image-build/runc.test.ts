import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, DEFAULT_BASE_CACHE } from '../../src/image-build/build.js';
import { ociRuntimeUnavailable, postScript, runImage } from '../helpers/oci-runtime.js';

/**
 * `hivelab build` output under a real OCI runtime: the Node and the Python hello-world folders are
 * built (the base comes from the shared cache; a cold one is made by mmdebstrap, ~1-3 min), run
 * under runc in a network namespace of their own (bookworm's crun 1.8 refuses this host's hybrid
 * cgroup v1/v2 layout: "cgroups in hybrid mode not supported"), and invoked as Knative would: POST /
 * with the event as the body, on the image's $PORT.
 */

const why = await ociRuntimeUnavailable('runc');
const dir = await mkdtemp(join(tmpdir(), 'hivelab-build-test-'));

describe.skipIf(why !== null)('hivelab build images under runc', () => {
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const images: Record<string, string> = {};
  beforeAll(async () => {
    for (const fn of ['hello-node', 'hello-python']) {
      const out = join(dir, `${fn}.tar`);
      await buildImage({ dir: `examples/${fn}`, out, baseCache: DEFAULT_BASE_CACHE });
      images[fn] = out;
    }
  }, 900_000);

  for (const [fn, runtime] of [
    ['hello-node', 'node v20'],
    ['hello-python', 'python 3.11'],
  ] as const) {
    it(`${fn}: answers POST / on $PORT under runc, and a chosen PORT`, async () => {
      const c = await runImage(images[fn]!);
      try {
        const out = JSON.parse(await c.inNetns(postScript(8080, JSON.stringify({ name: 'runc' })))) as { status: number; body: string };
        expect(out.status, await c.log()).toBe(200);
        const body = JSON.parse(out.body) as { message: string; runtime: string };
        expect(body.message).toBe('Hello, runc!');
        expect(body.runtime.startsWith(runtime)).toBe(true);
      } finally {
        await c.stop();
      }
      // Knative sets PORT itself; the shim must follow it.
      const d = await runImage(images[fn]!, { env: { PORT: '9123' } });
      try {
        const out = JSON.parse(await d.inNetns(postScript(9123, JSON.stringify({ name: 'knative' })))) as { status: number; body: string };
        expect(out.status, await d.log()).toBe(200);
        expect((JSON.parse(out.body) as { message: string }).message).toBe('Hello, knative!');
      } finally {
        await d.stop();
      }
    }, 180_000);
  }

  it('runs as the image config\'s unprivileged user, in the image root', async () => {
    const c = await runImage(images['hello-python']!);
    try {
      const status = await c.inNetns(postScript(8080, '{}'));
      expect(JSON.parse(status).status).toBe(200);
      const proc = await import('node:fs/promises').then((f) => f.readFile(`/proc/${c.pid}/status`, 'utf8'));
      expect(/^Uid:\s+65534\b/m.test(proc)).toBe(true);
    } finally {
      await c.stop();
    }
  }, 180_000);
});
