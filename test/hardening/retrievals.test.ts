/**
 * `retrievals: N` holds for every transport (issue 18): storage and inline references let a second
 * get succeed. Now each retrieval of those is claimed in the platform's retrieval ledger first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Harness, pattern } from '../transfer/harness.js';
import { MemoryLedger } from '../../src/transfer/retrieval-ledger.js';
import { startTestPlatform, removeState, FIXTURES } from '../platform/harness.js';

describe('through the sidecars of two workers sharing one ledger', () => {
  const h = new Harness();
  beforeAll(async () => {
    await h.start({ services: true, workers: 2, worker: { ledger: new MemoryLedger() } });
  }, 60_000);
  afterAll(() => h.stop());

  for (const transfer of ['inline', 'storage', 'redis', 'xdt'] as const) {
    it(`${transfer}: N retrievals succeed, the next is XdtRefExhausted, on whichever worker it is tried`, async () => {
      const producer = await h.instance(0, `producer-${transfer}`);
      const here = await h.instance(0, `consumer-${transfer}-0`);
      const there = await h.instance(1, `consumer-${transfer}-1`);
      const data = pattern(2048, 5);
      const once = await producer.sdk.put(data, { transfer, retrievals: 1 });
      expect(((await here.sdk.get(once)) as Buffer).equals(data)).toBe(true);
      await expect(here.sdk.get(once)).rejects.toMatchObject({ type: 'XdtRefExhausted' });
      await expect(there.sdk.get(once)).rejects.toMatchObject({ type: 'XdtRefExhausted' });

      const twice = await producer.sdk.put(data, { transfer, retrievals: 2 });
      // concurrent claims: exactly two win
      const results = await Promise.allSettled([here.sdk.get(twice), there.sdk.get(twice), here.sdk.get(twice)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
      expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.type)).toEqual(['XdtRefExhausted']);
    }, 30_000);
  }
});

describe('the ledger', () => {
  it('counts per reference, forgets expired ones, and refuses after expiry (fake clock)', () => {
    let now = 1000;
    const l = new MemoryLedger(() => now);
    expect(l.take('a', 2, 5000)).toBe(true);
    expect(l.take('b', 1, 2500)).toBe(true);
    expect(l.take('a', 2, 5000)).toBe(true);
    expect(l.take('a', 2, 5000)).toBe(false);
    expect(l.take('b', 1, 2500)).toBe(false);
    now = 3000; // b expired: swept on the next claim
    expect(l.take('c', 1, 9000)).toBe(true);
    expect(l.size).toBe(2);
    now = 6000;
    expect(l.take('a', 2, 5000)).toBe(false);
  });
});

describe('through the platform (workers claim over IPC)', () => {
  it('a second get of a one-retrieval inline or storage reference fails inside the function', async () => {
    const t = await startTestPlatform({ workers: 1 });
    try {
      expect((await t.deploy(join(FIXTURES, 'reget-node'))).status).toBe(201);
      for (const transfer of ['inline', 'storage']) {
        const r = await t.invoke('reget-node', { transfer });
        expect(r.status).toBe(200);
        expect(r.json().tries).toEqual([{ ok: true, bytes: 9 }, { ok: false, type: 'XdtRefExhausted' }]);
      }
    } finally {
      await t.stop();
      await removeState(t.stateDir);
    }
  }, 60_000);
});
