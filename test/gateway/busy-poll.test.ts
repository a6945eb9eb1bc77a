import { describe, expect, it } from 'vitest';
import { BusyPoll, withinPollWindow, type BusyPollClock } from '../../src/gateway/busy-poll.js';

// Times are binary fractions of a millisecond, so the window arithmetic is exact.

/** A fake clock whose `later` queue runs only when the test turns the loop. */
function fakeClock() {
  let t = 0;
  const queue: Array<() => void> = [];
  const clock: BusyPollClock = { now: () => t, later: (fn) => void queue.push(fn) };
  return {
    clock,
    advance: (ms: number) => void (t += ms),
    /** One turn of the event loop: runs what was scheduled before it. */
    turn: () => queue.splice(0).forEach((fn) => fn()),
    get scheduled() {
      return queue.length;
    },
  };
}

describe('busy-poll window', () => {
  it('is open strictly less than the window after the last event', () => {
    expect(withinPollWindow(10.0625, 10, 0.125)).toBe(true);
    expect(withinPollWindow(10.125, 10, 0.125)).toBe(false);
    expect(withinPollWindow(10, 10, 0)).toBe(false);
  });
});

describe('BusyPoll', () => {
  it('keeps the loop turning for one window after an event, then lets it sleep', () => {
    const f = fakeClock();
    const poll = new BusyPoll(0.125, f.clock);
    poll.touch();
    expect(poll.active).toBe(true);
    for (let i = 0; i < 7; i++) {
      f.advance(1 / 64);
      f.turn();
      expect(f.scheduled).toBe(1);
    }
    f.advance(1 / 32);
    f.turn();
    expect(f.scheduled).toBe(0);
    expect(poll.active).toBe(false);
  });

  it('extends the window on every event without starting a second poll loop', () => {
    const f = fakeClock();
    const poll = new BusyPoll(0.125, f.clock);
    poll.touch();
    f.advance(0.09375);
    poll.touch();
    poll.touch();
    expect(f.scheduled).toBe(1);
    f.advance(0.09375); // past the first event's window, within the last one's: still polling
    f.turn();
    expect(f.scheduled).toBe(1);
    f.advance(0.03125);
    f.turn();
    expect(poll.active).toBe(false);
    // A later event starts polling again.
    poll.touch();
    expect(poll.active).toBe(true);
    expect(f.scheduled).toBe(1);
  });

  it('never polls with a window of 0', () => {
    const f = fakeClock();
    const poll = new BusyPoll(0, f.clock);
    poll.touch();
    expect(poll.active).toBe(false);
    expect(f.scheduled).toBe(0);
  });
});
