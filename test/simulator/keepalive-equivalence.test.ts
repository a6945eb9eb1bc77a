import { describe, expect, it } from 'vitest';
import type { AzureTrace } from '../../src/azure-trace/types.js';
import { Rng } from '../../src/azure-trace/rng.js';
import { simulateTrace } from '../../src/simulator/simulate.js';

/**
 * The fixed keep-alive policy is a count (peak need over the last keep-alive); the README claims it
 * equals AWS-style per-instance keep-alive when the most recently freed instance is reused first.
 * Check against a direct per-instance model on random traces. The policy sees busy time at 1 s
 * resolution, so an instance here expires at ceil(its last completion to a whole second) + K.
 */
function perInstanceColdStarts(perMinute: number[], durationMs: number, keepAliveMs: number): number {
  const busyUntil: number[] = [];
  let cold = 0;
  for (let m = 0; m < perMinute.length; m++) {
    const c = perMinute[m]!;
    for (let j = 0; j < c; j++) {
      const a = m * 60_000 + ((j + 0.5) * 60_000) / c;
      // drop instances whose keep-alive ran out
      for (let i = busyUntil.length - 1; i >= 0; i--) {
        if (busyUntil[i]! <= a && Math.ceil(busyUntil[i]! / 1000) * 1000 + keepAliveMs <= a) busyUntil.splice(i, 1);
      }
      let best = -1;
      for (let i = 0; i < busyUntil.length; i++) if (busyUntil[i]! <= a && (best < 0 || busyUntil[i]! > busyUntil[best]!)) best = i;
      if (best >= 0) busyUntil[best] = a + durationMs;
      else {
        cold++;
        busyUntil.push(a + durationMs);
      }
    }
  }
  return cold;
}

describe('fixed keep-alive as a count', () => {
  it('matches a per-instance keep-alive model with most-recently-used reuse', () => {
    const rng = new Rng(99);
    for (let trial = 0; trial < 40; trial++) {
      const minutes = 120;
      const perMinute = Array.from({ length: minutes }, () => (rng.next() < 0.6 ? 0 : rng.int(rng.next() < 0.2 ? 40 : 5)));
      const durationMs = 100 + rng.int(40_000) + 0.25; // never a whole second
      const keepAliveS = [30, 60, 120, 600][rng.int(4)]!;
      const p = Object.fromEntries(['0', '1', '25', '50', '75', '99', '100'].map((k) => [k, durationMs]));
      const trace: AzureTrace = {
        day: 't',
        minutes,
        functions: [{ hashOwner: 'o', hashApp: 'a', hashFunction: 'f', trigger: 'http', perMinute, duration: { averageMs: durationMs, count: 0, minimumMs: 0, maximumMs: 0, percentilesMs: p } }],
      };
      const r = simulateTrace(trace, { policy: 'fixed-keepalive', arrivals: 'equidistant', scaling: { keepAliveS } });
      expect(r.coldStarts, `trial ${trial}: K=${keepAliveS}s d=${durationMs}ms`).toBe(perInstanceColdStarts(perMinute, durationMs, keepAliveS * 1000));
    }
  });
});
