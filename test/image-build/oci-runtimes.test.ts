import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, DEFAULT_BASE_CACHE } from '../../src/image-build/build.js';
import { ociRuntimeUnavailable, postScript, runImage, runtimeCommand, type OciRuntime } from '../helpers/oci-runtime.js';

/**
 * `hivelab build` output under real OCI runtimes: the Node and the Python hello-world folders are
 * built once (the base comes from the shared cache, or HIVELAB_BUILD_BASE_CACHE; a cold one is made
 * by mmdebstrap, ~1-3 min), then each image runs under runc and under crun in a network namespace
 * of its own and is invoked as Knative would: POST / with the event as the body, on the image's
 * $PORT. crun runs in a private mount namespace without the host's cgroup2 hierarchy
 * (test/helpers/oci-runtime.ts, docs/BUILD.md): bookworm's crun 1.8 refuses the hybrid layout.
 */

const RUNTIMES: OciRuntime[] = ['runc', 'crun'];
const why = Object.fromEntries(await Promise.all(RUNTIMES.map(async (rt) => [rt, await ociRuntimeUnavailable(rt)] as const))) as Record<OciRuntime, string | null>;
const dir = await mkdtemp(join(tmpdir(), 'hivelab-build-test-'));
const baseCache = process.env.HIVELAB_BUILD_BASE_CACHE || DEFAULT_BASE_CACHE;
const unifiedMounted = async () => / \/sys\/fs\/cgroup\/unified cgroup2 /.test(await readFile('/proc/self/mounts', 'utf8'));
const hybridHost = await unifiedMounted();

describe('the crun command line', () => {
  it('runc runs as it is; crun on a hybrid layout runs in a private mount namespace without the cgroup2 hierarchy', () => {
    expect(runtimeCommand('runc', ['state', 'x'], true)).toEqual(['runc', ['state', 'x']]);
    expect(runtimeCommand('crun', ['state', 'x'], false)).toEqual(['crun', ['state', 'x']]);
    const [cmd, argv] = runtimeCommand('crun', ['state', 'x'], true);
    expect(cmd).toBe('unshare');
    expect(argv.slice(0, 4)).toEqual(['--mount', '--propagation', 'private', '--']);
    expect(argv.slice(4)).toEqual(['sh', '-c', 'umount /sys/fs/cgroup/unified && exec crun "$@"', 'crun', 'state', 'x']);
  });
});

describe.skipIf(RUNTIMES.every((rt) => why[rt] !== null))('hivelab build images under runc and crun', () => {
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const images: Record<string, string> = {};
  beforeAll(async () => {
    for (const fn of ['hello-node', 'hello-python']) {
      const out = join(dir, `${fn}.tar`);
      await buildImage({ dir: `examples/${fn}`, out, baseCache });
      images[fn] = out;
    }
  }, 900_000);

  for (const rt of RUNTIMES) {
    describe.skipIf(why[rt] !== null)(rt, () => {
      for (const [fn, runtime] of [
        ['hello-node', 'node v20'],
        ['hello-python', 'python 3.11'],
      ] as const) {
        it(`${fn}: answers POST / on $PORT under ${rt}, and a chosen PORT`, async () => {
          const c = await runImage(images[fn]!, { rt });
          try {
            const out = JSON.parse(await c.inNetns(postScript(8080, JSON.stringify({ name: rt })))) as { status: number; body: string };
            expect(out.status, await c.log()).toBe(200);
            const body = JSON.parse(out.body) as { message: string; runtime: string };
            expect(body.message).toBe(`Hello, ${rt}!`);
            expect(body.runtime.startsWith(runtime)).toBe(true);
          } finally {
            await c.stop();
          }
          // Knative sets PORT itself; the shim must follow it.
          const d = await runImage(images[fn]!, { rt, env: { PORT: '9123' } });
          try {
            const out = JSON.parse(await d.inNetns(postScript(9123, JSON.stringify({ name: 'knative' })))) as { status: number; body: string };
            expect(out.status, await d.log()).toBe(200);
            expect((JSON.parse(out.body) as { message: string }).message).toBe('Hello, knative!');
          } finally {
            await d.stop();
          }
        }, 180_000);
      }

      it(`runs as the image config's unprivileged user, under ${rt}; the host keeps its cgroup2 mount`, async () => {
        const c = await runImage(images['hello-python']!, { rt });
        try {
          const status = await c.inNetns(postScript(8080, '{}'));
          expect(JSON.parse(status).status).toBe(200);
          const proc = await readFile(`/proc/${c.pid}/status`, 'utf8');
          expect(/^Uid:\s+65534\b/m.test(proc)).toBe(true);
          expect(await unifiedMounted()).toBe(hybridHost); // crun's unmount stayed in its own namespace
        } finally {
          await c.stop();
        }
      }, 180_000);
    });
  }
});
