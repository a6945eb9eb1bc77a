import { describe, expect, it } from 'vitest';
import { pickIdleToStop, scaleDelta } from '../../src/autoscaler/reconcile.js';

describe('reconcile', () => {
  it('starts the shortfall counting starting instances, stops only ready surplus', () => {
    expect(scaleDelta(5, 2, 1)).toEqual({ start: 2, stop: 0 });
    expect(scaleDelta(3, 2, 1)).toEqual({ start: 0, stop: 0 });
    expect(scaleDelta(1, 4, 2)).toEqual({ start: 0, stop: 3 });
    expect(scaleDelta(0, 0, 0)).toEqual({ start: 0, stop: 0 });
  });
  it('stops idle instances, least recently used first, never busy ones', () => {
    const inst = [
      { id: 'a', inFlight: 0, lastUsedAt: 300 },
      { id: 'b', inFlight: 1, lastUsedAt: 100 },
      { id: 'c', inFlight: 0, lastUsedAt: 100 },
      { id: 'd', inFlight: 0, lastUsedAt: 200 },
    ];
    expect(pickIdleToStop(inst, 2)).toEqual(['c', 'd']);
    expect(pickIdleToStop(inst, 9)).toEqual(['c', 'd', 'a']);
    expect(pickIdleToStop(inst, 0)).toEqual([]);
  });
});
