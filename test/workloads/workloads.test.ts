/**
 * The three real workloads (thesis §6.5.5) run through a real platform, at small scale, over xdt and
 * storage (plus redis/inline for MapReduce): each result must equal the same computation done
 * directly over the same seeded inputs, so a lost, duplicated or corrupted transfer fails the test.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startTestPlatform, removeState, type TestPlatform } from '../platform/harness.js';
import { deployWorkload, runWorkload, WORKLOADS_DIR } from '../../src/benchkit/xdt/workloads.js';
import type { PlatformClient } from '../../src/gateway/client.js';

describe('real workloads through the platform', () => {
  let t: TestPlatform;
  let client: PlatformClient;

  beforeAll(async () => {
    t = await startTestPlatform();
    client = { url: t.platform.url, tokens: t.platform.tokens, stateDir: t.stateDir };
    for (const w of ['mapreduce', 'ensemble', 'video']) await deployWorkload(client, w);
  }, 300_000);
  afterAll(async () => {
    await t?.stop();
    if (t) await removeState(t.stateDir);
  }, 120_000);

  const mr = { seed: 7, mappers: 6, reducers: 3, rowsPerMapper: 3000 };
  for (const transfer of ['xdt', 'storage', 'redis', 'inline']) {
    it(`mapreduce over ${transfer}: the aggregate equals the query computed directly`, async () => {
      const ref = (await import(pathToFileURL(join(WORKLOADS_DIR, 'mapreduce', 'reference.mjs')).href)) as {
        aggregateDirectly(o: object): { groups: number; totalCents: number; digest: string };
      };
      const want = ref.aggregateDirectly(mr);
      const got = await runWorkload(client, 'mapreduce', transfer, mr);
      expect(got.transfer).toBe(transfer);
      expect({ groups: got.groups, totalCents: got.totalCents, digest: got.digest }).toEqual(want);
      expect(got.timings.transferMs).toBeGreaterThan(0);
      expect(got.timings.transferMs).toBeLessThan(got.timings.e2eMs);
    }, 300_000);
  }

  const ens = { seed: 3, samples: 2000, trainers: 4 };
  for (const transfer of ['xdt', 'storage']) {
    it(`ensemble over ${transfer}: the stacked model predicts exactly as one trained directly`, async () => {
      const want = JSON.parse(
        execFileSync('/usr/bin/python3', [join(WORKLOADS_DIR, 'ensemble', 'reference.py'), String(ens.seed), String(ens.samples), String(ens.trainers)], {
          encoding: 'utf8',
        }),
      ) as { r2: number; predictionsDigest: string };
      const got = await runWorkload(client, 'ensemble', transfer, ens);
      expect(got.predictionsDigest).toBe(want.predictionsDigest);
      expect(got.r2).toBeCloseTo(want.r2, 9);
      expect(got.baseR2).toHaveLength(ens.trainers);
      expect(got.timings.transferMs).toBeGreaterThan(0);
    }, 300_000);
  }

  for (const transfer of ['xdt', 'storage']) {
    it(`video over ${transfer}: every sampled frame is recognised as the object drawn in it`, async () => {
      const scene = (await import(pathToFileURL(join(WORKLOADS_DIR, 'video', 'scene.mjs')).href)) as { FRAMES: number; labelOf(n: number): string };
      const every = 5;
      const got = await runWorkload(client, 'video', transfer, { every });
      const want = Array.from({ length: Math.ceil(scene.FRAMES / every) }, (_, i) => ({ frame: i * every, label: scene.labelOf(i * every) }));
      expect(got.labels).toEqual(want);
      expect(got.frameBytes).toBe(960 * 540 * 3);
      expect(got.timings.transferMs).toBeGreaterThan(0);
    }, 300_000);
  }
});
