/**
 * Adaptive busy-polling of the gateway's event loop while invocations pass through it.
 *
 * On this VM most of what the gateway adds to a warm invocation is not its own code but sleeping:
 * each time the gateway blocks in epoll, the instance's response (and the client's next request)
 * must wake it, and a cross-CPU wake-up costs the writer an IPI (a VM exit) and the gateway the
 * switch back in — together more than the direct call's whole round trip (BENCHMARKS.md, warm path).
 * So after each invocation event the gateway keeps its loop turning (epoll with a zero timeout,
 * through setImmediate) for a short window: a response or request arriving within it is picked up
 * without anyone being woken. The window bounds the CPU spent: a function that runs longer costs
 * one window of polling, then the gateway sleeps as before. A window of 0 turns polling off.
 */

/** True while the loop should keep polling: the last invocation event is less than `windowMs` old. */
export function withinPollWindow(nowMs: number, lastEventMs: number, windowMs: number): boolean {
  return nowMs - lastEventMs < windowMs;
}

export interface BusyPollClock {
  now(): number;
  /** Runs `fn` on the next turn of the event loop, after I/O has been polled. */
  later(fn: () => void): void;
}

const realClock: BusyPollClock = { now: () => performance.now(), later: (fn) => setImmediate(fn) };

export class BusyPoll {
  private lastEvent = 0;
  private polling = false;

  constructor(
    readonly windowMs: number,
    private readonly clock: BusyPollClock = realClock,
  ) {}

  get active(): boolean {
    return this.polling;
  }

  /** An invocation event happened: keep polling for one window from now. */
  touch(): void {
    if (this.windowMs <= 0) return;
    this.lastEvent = this.clock.now();
    if (this.polling) return;
    this.polling = true;
    this.clock.later(this.turn);
  }

  private readonly turn = (): void => {
    if (withinPollWindow(this.clock.now(), this.lastEvent, this.windowMs)) this.clock.later(this.turn);
    else this.polling = false;
  };
}
