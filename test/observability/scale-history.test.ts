import { describe, it, expect } from 'vitest';
import { ScaleHistory } from '../../src/dashboard/scale-history.js';

describe('scale history', () => {
  it('folds runs of unchanged ticks, keeps every change, and stays within its bound', () => {
    const h = new ScaleHistory(5);
    const tick = (time: number, desired: number, actual: number, panic = false) => h.record('f', { time, desired, actual, panic });
    tick(0, 1, 1);
    tick(2, 1, 1);
    tick(4, 1, 1);
    tick(6, 1, 1);
    // A run keeps its first point and a last point that moves forward.
    expect(h.points('f').map((p) => p.time)).toEqual([0, 6]);
    tick(8, 4, 1, true);
    tick(10, 4, 3, true);
    expect(h.points('f').map((p) => [p.time, p.desired, p.actual, p.panic])).toEqual([[0, 1, 1, false], [6, 1, 1, false], [8, 4, 1, true], [10, 4, 3, true]]);
    tick(12, 2, 3);
    tick(14, 2, 2);
    expect(h.points('f')).toHaveLength(5);
    expect(h.points('f')[4]!.time).toBe(14);
    expect(h.points('g')).toEqual([]);
  });
});
