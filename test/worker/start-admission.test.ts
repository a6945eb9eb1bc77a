import { describe, expect, it } from 'vitest';
import { StartAdmission, StartAdmissionError, type AdmissionClock, type StartPermit } from '../../src/worker/start-admission.js';

/** A clock moved by hand: timers fire only inside `advance`. */
class FakeClock implements AdmissionClock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private ids = 0;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.ids;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== h);
  }
  advance(ms: number): void {
    const until = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = until;
  }
  get pending(): number {
    return this.timers.length;
  }
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Admits `key` and records when (in admission order) it got its slot, or why it did not. */
function track(a: StartAdmission, key: string, deadline: number, log: string[]): { permit?: StartPermit; error?: StartAdmissionError } {
  const out: { permit?: StartPermit; error?: StartAdmissionError } = {};
  a.admit(key, deadline).then(
    (p) => {
      out.permit = p;
      log.push(key);
    },
    (e: StartAdmissionError) => {
      out.error = e;
      log.push(`${key}:${e.type}`);
    },
  );
  return out;
}

describe('StartAdmission', () => {
  it('runs at most `limit` starts at once and admits the rest first in, first out', async () => {
    const clock = new FakeClock();
    const a = new StartAdmission(2, clock);
    const log: string[] = [];
    const s = ['a', 'b', 'c', 'd', 'e'].map((k) => track(a, k, 30_000, log));
    await flush();
    expect(log).toEqual(['a', 'b']);
    expect(a.stats()).toEqual({ limit: 2, running: 2, waiting: 3, peakRunning: 2 });
    s[1]!.permit!.release();
    await flush();
    expect(log).toEqual(['a', 'b', 'c']);
    s[0]!.permit!.release();
    s[2]!.permit!.release();
    await flush();
    expect(log).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(a.stats()).toMatchObject({ running: 2, waiting: 0, peakRunning: 2 });
    // releasing twice frees one slot only
    s[3]!.permit!.release();
    s[3]!.permit!.release();
    expect(a.stats().running).toBe(1);
    s[4]!.permit!.release();
    expect(a.stats()).toMatchObject({ running: 0, waiting: 0, peakRunning: 2 });
    expect(clock.pending).toBe(0);
  });

  it('a wait counts against the start deadline: a start not admitted in time fails StartTimeout and never runs', async () => {
    const clock = new FakeClock();
    const a = new StartAdmission(1, clock);
    const log: string[] = [];
    const first = track(a, 'first', 30_000, log);
    const late = track(a, 'late', 10_000, log);
    const patient = track(a, 'patient', 40_000, log);
    await flush();
    clock.advance(9_999);
    await flush();
    expect(log).toEqual(['first']);
    clock.advance(1);
    await flush();
    expect(log).toEqual(['first', 'late:StartTimeout']);
    expect(late.error!.message).toMatch(/waited 10000 ms for one of this worker's 1 start slot/);
    expect(a.stats()).toMatchObject({ running: 1, waiting: 1 });
    // the one that timed out gives no slot back and takes none: the next in line gets it
    first.permit!.release();
    await flush();
    expect(log).toEqual(['first', 'late:StartTimeout', 'patient']);
    expect(patient.permit!.queuedAt).toBe(0);
    expect(patient.permit!.admittedAt).toBe(10_000);
    // admitted before its deadline: the timer is gone, nothing fires later
    clock.advance(60_000);
    await flush();
    expect(patient.error).toBeUndefined();
  });

  it('a start already past its deadline when it would have to wait is refused at once', async () => {
    const clock = new FakeClock();
    clock.t = 5_000;
    const a = new StartAdmission(1, clock);
    const log: string[] = [];
    track(a, 'x', 10_000, log);
    track(a, 'y', 5_000, log);
    await flush();
    expect(log).toEqual(['x', 'y:StartTimeout']);
  });

  it('a cancelled start leaves the queue at once; a running one cannot be cancelled', async () => {
    const clock = new FakeClock();
    const a = new StartAdmission(1, clock);
    const log: string[] = [];
    const run = track(a, 'run', 30_000, log);
    const gone = track(a, 'gone', 30_000, log);
    track(a, 'next', 30_000, log);
    await flush();
    expect(a.cancel('run')).toBe(false);
    expect(a.cancel('gone', 'function deleted')).toBe(true);
    await flush();
    expect(gone.error!.type).toBe('StartCancelled');
    expect(gone.error!.message).toContain('function deleted');
    expect(a.stats().waiting).toBe(1);
    expect(a.cancel('gone')).toBe(false);
    run.permit!.release();
    await flush();
    expect(log).toEqual(['run', 'gone:StartCancelled', 'next']);
  });

  it('refuses a limit below one', () => {
    expect(() => new StartAdmission(0)).toThrow(/whole number ≥ 1/);
    expect(() => new StartAdmission(1.5)).toThrow(/whole number ≥ 1/);
  });
});
