import { describe, expect, it } from 'vitest';
import { maxStarting, startsAllowed, STARTING_CAP_DEFAULTS } from '../../src/autoscaler/starting-cap.js';
import { StartBackoff } from '../../src/autoscaler/start-backoff.js';

describe('starting cap: starts in progress relative to ready instances', () => {
  it('a function at zero or with few ready gets the floor; above it, one more start per ready instance', () => {
    const cap = STARTING_CAP_DEFAULTS;
    expect(maxStarting(0, cap)).toBe(4);
    expect(maxStarting(3, cap)).toBe(4);
    expect(maxStarting(10, cap)).toBe(10);
    expect(maxStarting(3, { floor: 1, perReady: 0.5 })).toBe(2);
  });

  it('limits what the autoscaler asks for, counting the starts already under way', () => {
    const cap = { floor: 4, perReady: 1 };
    // the soak's failure: 1 ready, in-flight requests asking for 40 more
    expect(startsAllowed(40, 1, 0, cap)).toBe(4);
    expect(startsAllowed(40, 1, 4, cap)).toBe(0);
    expect(startsAllowed(40, 1, 9, cap)).toBe(0); // never negative
    // as starts finish the function grows geometrically: 4 → 8 → 16 ready
    expect(startsAllowed(40, 4, 0, cap)).toBe(4);
    expect(startsAllowed(40, 8, 0, cap)).toBe(8);
    // asking for fewer than allowed gets what was asked
    expect(startsAllowed(2, 0, 0, cap)).toBe(2);
    expect(startsAllowed(0, 0, 0, cap)).toBe(0);
  });
});

describe('start back-off', () => {
  it('doubles from the initial delay on each failure in a row, up to the maximum', () => {
    const b = new StartBackoff({ initialMs: 1000, maxMs: 30_000 });
    expect(b.blocked(0)).toBe(false);
    expect(b.failed(0)).toBe(1000);
    expect(b.blocked(999)).toBe(true);
    expect(b.blocked(1000)).toBe(false);
    expect(b.failed(1000)).toBe(2000);
    expect(b.failed(3000)).toBe(4000);
    expect(b.until).toBe(7000);
    for (let t = 7000; b.failures < 40; t = b.until) b.failed(t);
    const end = b.until;
    expect(b.failed(end)).toBe(30_000);
    expect(b.failures).toBe(41);
  });

  it('starts of one round failing together count once: the back-off grows per round, not per start', () => {
    const b = new StartBackoff({ initialMs: 1000, maxMs: 30_000 });
    expect(b.failed(0)).toBe(1000);
    expect(b.failed(0)).toBe(1000);
    expect(b.failed(400)).toBe(600); // still the first round: not lengthened
    expect(b.failures).toBe(1);
    expect(b.failed(1000)).toBe(2000); // the next round
    expect(b.failures).toBe(2);
    expect(b.until).toBe(3000);
  });

  it('a start that succeeds resets it', () => {
    const b = new StartBackoff({ initialMs: 500, maxMs: 10_000 });
    b.failed(0);
    b.failed(0);
    b.succeeded();
    expect(b.blocked(1)).toBe(false);
    expect(b.failures).toBe(0);
    expect(b.failed(5)).toBe(500);
  });
});
