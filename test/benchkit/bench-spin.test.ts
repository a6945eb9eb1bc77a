import { describe, expect, it } from 'vitest';
import { hopTransfersMs } from '../../src/benchkit/chain.js';
// @ts-ignore -- a plain ES module function folder, no type declarations
import { handler } from '../../bench-functions/bench-spin/index.mjs';

/**
 * bench-spin's own logic, run in-process: a chain of functions whose `context` carries the same
 * invoke/put/get surface as the Hivelab SDK, backed here by a Map (the transports themselves are
 * the sidecar's business and are tested there).
 */
function chainContext(name: string, store: Map<string, unknown>, log: string[]): Record<string, unknown> {
  return {
    functionName: name,
    instanceId: `${name}-i`,
    async invoke(fn: string, obj: unknown) {
      log.push(`invoke ${fn}`);
      return handler(JSON.parse(JSON.stringify(obj)), chainContext(fn, store, log));
    },
    async put(obj: unknown, opts: { transfer: string }) {
      const ref = `ref-${store.size}`;
      log.push(`put ${opts.transfer}`);
      store.set(ref, obj);
      return ref;
    },
    async get(ref: string) {
      log.push(`get ${ref}`);
      return store.get(ref);
    },
  };
}

describe('bench-spin', () => {
  it('busy-spins the service time and stamps its receive time', async () => {
    const t0 = performance.timeOrigin + performance.now();
    const res = await handler({ serviceTimeMs: 30, payload: 'x'.repeat(100), chain: [] }, chainContext('a', new Map(), []));
    const t1 = performance.timeOrigin + performance.now();
    expect(res.hops).toHaveLength(1);
    expect(res.hops[0]).toMatchObject({ function: 'a', instance: 'a-i', payloadLength: 100 });
    expect(res.hops[0].receivedAtMs).toBeGreaterThanOrEqual(t0);
    expect(t1 - res.hops[0].receivedAtMs).toBeGreaterThanOrEqual(30);
  });

  for (const transfer of ['inline', 'storage', 'xdt']) {
    it(`a chain of three hands payloadBytes on via ${transfer} and reports every hop`, async () => {
      const log: string[] = [];
      const res = await handler({ serviceTimeMs: 0, payloadBytes: 5000, chain: ['b', 'c'], transfer }, chainContext('a', new Map(), log));
      expect(res.hops.map((h: { function: string }) => h.function)).toEqual(['a', 'b', 'c']);
      expect(res.hops.map((h: { payloadLength: number }) => h.payloadLength)).toEqual([0, 5000, 5000]);
      expect(log.filter((l) => l.startsWith('put'))).toHaveLength(transfer === 'inline' ? 0 : 2);
      if (transfer !== 'inline') expect(log).toContain(`put ${transfer}`);
      const transfers = hopTransfersMs(res.hops);
      expect(transfers).toHaveLength(2);
      for (const t of transfers) expect(t).toBeGreaterThanOrEqual(0);
    });
  }
});
