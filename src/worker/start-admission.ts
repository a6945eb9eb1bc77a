import { availableParallelism } from 'node:os';

/**
 * Cold-start admission: at most `limit` instance starts run at once on a worker; the others wait in
 * FIFO order. A runtime start is mostly CPU (a Python runtime importing its libraries takes 1–2 s of
 * a core); a hundred of them started at once on two cores each get a sliver, all miss their deadline,
 * are retried, and the machine stays saturated by the very work meant to relieve it (the soak of
 * issue 18). Admitted N at a time, each start gets a core and finishes; the queue holds the rest.
 *
 * A wait counts against the start's own deadline: a start that cannot be admitted before it fails
 * with `StartTimeout` without having cost any CPU. A start whose instance is no longer wanted
 * (stopped while queued: recycled, function deleted) leaves the queue at once with `StartCancelled`.
 *
 * Time comes from an injected clock so tests drive it by hand.
 */

export interface AdmissionClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: AdmissionClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Default limit: one start per CPU this process may run on (its affinity), at least one. */
export function defaultMaxStarting(): number {
  return Math.max(1, availableParallelism());
}

/** Why a start never ran; `type` travels to the control plane as the worker error's type. */
export class StartAdmissionError extends Error {
  constructor(
    message: string,
    readonly type: 'StartTimeout' | 'StartCancelled',
  ) {
    super(message);
    this.name = 'StartAdmissionError';
  }
}

/** An admitted start's slot; `release` it exactly when the start's work is over (idempotent). */
export interface StartPermit {
  /** When the start joined the queue and when it was admitted (the clock's milliseconds). */
  queuedAt: number;
  admittedAt: number;
  release(): void;
}

interface Waiter {
  key: string;
  queuedAt: number;
  timer: unknown;
  admit(p: StartPermit): void;
  fail(e: StartAdmissionError): void;
}

export interface AdmissionStats {
  limit: number;
  /** Starts admitted and not yet released. */
  running: number;
  /** Starts waiting for a slot. */
  waiting: number;
  /** The most starts ever running at once (what a test checks against `limit`). */
  peakRunning: number;
}

export class StartAdmission {
  private running = 0;
  private peak = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    readonly limit: number,
    private readonly clock: AdmissionClock = realClock,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`the limit of concurrent starts must be a whole number ≥ 1, got ${limit}`);
  }

  /**
   * Resolves once the start `key` may run; rejects with `StartTimeout` when `deadline` (clock ms)
   * passes first, or with `StartCancelled` when `cancel(key)` is called while it waits.
   */
  admit(key: string, deadline: number): Promise<StartPermit> {
    const queuedAt = this.clock.now();
    if (this.running < this.limit && this.queue.length === 0) return Promise.resolve(this.grant(queuedAt));
    if (deadline <= queuedAt) return Promise.reject(this.timeoutError(key, 0));
    return new Promise<StartPermit>((resolve, reject) => {
      const w: Waiter = {
        key,
        queuedAt,
        timer: undefined,
        admit: resolve,
        fail: reject,
      };
      w.timer = this.clock.setTimeout(() => {
        if (this.remove(w)) w.fail(this.timeoutError(key, this.clock.now() - queuedAt));
      }, deadline - queuedAt);
      this.queue.push(w);
    });
  }

  /** Takes a waiting start out of the queue; false when it is not waiting (already running, or unknown). */
  cancel(key: string, why = 'its instance was stopped'): boolean {
    const w = this.queue.find((x) => x.key === key);
    if (!w || !this.remove(w)) return false;
    w.fail(new StartAdmissionError(`start of ${key} cancelled while waiting for a start slot: ${why}`, 'StartCancelled'));
    return true;
  }

  stats(): AdmissionStats {
    return { limit: this.limit, running: this.running, waiting: this.queue.length, peakRunning: this.peak };
  }

  private grant(queuedAt: number): StartPermit {
    this.running++;
    this.peak = Math.max(this.peak, this.running);
    let released = false;
    return {
      queuedAt,
      admittedAt: this.clock.now(),
      release: () => {
        if (released) return;
        released = true;
        this.running--;
        this.next();
      },
    };
  }

  private next(): void {
    while (this.running < this.limit && this.queue.length > 0) {
      const w = this.queue.shift()!;
      this.clock.clearTimeout(w.timer);
      w.admit(this.grant(w.queuedAt));
    }
  }

  private remove(w: Waiter): boolean {
    const i = this.queue.indexOf(w);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    this.clock.clearTimeout(w.timer);
    return true;
  }

  private timeoutError(key: string, waitedMs: number): StartAdmissionError {
    return new StartAdmissionError(
      `start of ${key} waited ${Math.round(waitedMs)} ms for one of this worker's ${this.limit} start slot(s) and missed its start deadline (${this.running} starting, ${this.queue.length} waiting)`,
      'StartTimeout',
    );
  }
}
