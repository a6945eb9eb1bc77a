import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, DEFAULT_BASE_CACHE } from '../../src/image-build/build.js';
import { launcherUnavailableReason } from '../../src/sandbox/root.js';
import { removeState, startTestPlatform, type TestPlatform } from '../platform/harness.js';
import { greeterClient, unary } from '../grpc/helpers.js';
import { hivelab } from '../image/cli.js';

/**
 * Both doors of issue 17 together: a vSwarm function made into an image by `hivelab build` is
 * deployed with `hivelab deploy --image` (its settings — gRPC, memory — from the image's own manifest
 * label, its code from the image's /var/task) and called through the gateway with a stock gRPC
 * client, cold and then warm.
 */

const why = launcherUnavailableReason() ?? (process.getuid?.() === 0 ? null : 'hivelab build needs root (mmdebstrap)');
const FN = resolve(import.meta.dirname, '../../examples/vswarm/fibonacci-python');

describe.skipIf(why !== null)('a vSwarm image made by hivelab build, deployed with --image', () => {
  let t: TestPlatform;
  let dir: string;
  let client: grpc.Client;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hivelab-built-image-'));
    // the same base as the vSwarm image tests (python3-pyaes for aes-python): one mmdebstrap run
    await buildImage({ dir: FN, out: join(dir, 'fib.tar'), baseCache: DEFAULT_BASE_CACHE, packages: ['python3-pyaes'] });
    t = await startTestPlatform();
    client = greeterClient(new URL(t.platform.url).host, 'fibonacci-python.default.example.com', 'fibonacci', 'Greeter');
  }, 600_000);
  afterAll(async () => {
    client?.close();
    await t?.stop();
    if (t) await removeState(t.stateDir);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('takes its name and gRPC from the label, runs its own /var/task, answers cold then warm', async () => {
    const d = await hivelab(['deploy', '--image', `oci-archive:${join(dir, 'fib.tar')}`, '--state', t.stateDir]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/deployed fibonacci-python/);
    const auth = { authorization: `Bearer ${t.platform.tokens.invoke}` };
    const cold = await unary(client, 'SayHello', { name: '10' }, auth, 180_000);
    expect(cold.err?.details, cold.err?.message).toBeUndefined();
    expect(cold.reply!.message).toBe('fn: Fib: y = fib(x) | x: 10 y: 55 | runtime: python');
    const warm = await unary(client, 'SayHello', { name: '20' }, auth, 60_000);
    expect(warm.reply!.message).toBe('fn: Fib: y = fib(x) | x: 20 y: 6765 | runtime: python');
    expect(warm.headers['x-hivelab-cold']).toBe('0');
  }, 300_000);
});
