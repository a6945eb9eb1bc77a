import { HttpError } from '../core/errors.js';
import type { Invocation } from '../core/invocation.js';

export interface Buffered<T> {
  inv: Invocation;
  /**
   * The instance this invocation waits for: one started for it whose sidecar is already pulling the
   * object its event refers to (XDT, thesis §6.4.1). A reference is retrieved once, so no other
   * instance could serve it.
   */
  pinned?: T;
  /** Hands the invocation to an instance; called at most once. */
  release: (to: T) => void;
  fail: (err: Error) => void;
}

/**
 * The activator's per-function buffer: invocations wait here while no instance has a free slot.
 * Bounded in depth (503 beyond) and in time (503 when no instance could take it in time), so a
 * burst never grows memory without bound and nothing waits forever.
 */
export class RequestBuffer<T> {
  private readonly items: Buffered<T>[] = [];
  /** Entries pinned now: the common case, none, costs drain() no scan. */
  private pinnedCount = 0;

  constructor(
    private readonly functionName: string,
    private readonly depth: number,
    private readonly timeoutMs: number,
  ) {}

  get length(): number {
    return this.items.length;
  }

  /** Resolves with the instance it was released to, rejects on overflow or timeout. */
  wait(inv: Invocation): Promise<T> {
    if (this.items.length >= this.depth) {
      return Promise.reject(
        new HttpError(503, 'Overloaded', `activator buffer for ${this.functionName} is full (${this.depth} requests)`),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const limit = Math.min(this.timeoutMs, Math.max(0, inv.deadline - Date.now()));
      const entry: Buffered<T> = {
        inv,
        release: (to) => {
          clearTimeout(timer);
          resolve(to);
        },
        fail: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        const i = this.items.indexOf(entry);
        if (i >= 0) this.items.splice(i, 1);
        if (i >= 0 && entry.pinned !== undefined) this.pinnedCount--;
        reject(
          limit < this.timeoutMs
            ? new HttpError(504, 'Timeout', `no instance of ${this.functionName} became available within the function's timeout`)
            : new HttpError(503, 'NoInstance', `no instance of ${this.functionName} became available within ${this.timeoutMs} ms`),
        );
      }, limit);
      this.items.push(entry);
    });
  }

  /** Takes the oldest waiting invocation that is not pinned to an instance. */
  shift(): Buffered<T> | undefined {
    const i = this.items.findIndex((b) => b.pinned === undefined);
    return i < 0 ? undefined : this.items.splice(i, 1)[0];
  }

  /** Takes the oldest pinned invocation whose instance `ready` says can take it now. */
  takePinned(ready: (to: T) => boolean): Buffered<T> | undefined {
    if (this.pinnedCount === 0) return undefined;
    const i = this.items.findIndex((b) => b.pinned !== undefined && ready(b.pinned));
    if (i < 0) return undefined;
    this.pinnedCount--;
    return this.items.splice(i, 1)[0];
  }

  /** Pins the oldest unpinned invocation that `accept`s to `to`, and returns it. */
  pin(to: T, accept: (inv: Invocation) => boolean): Buffered<T> | undefined {
    const b = this.items.find((x) => x.pinned === undefined && accept(x.inv));
    if (b) {
      b.pinned = to;
      this.pinnedCount++;
    }
    return b;
  }

  /** `from` will never serve: what was pinned to it waits for any instance again. */
  unpin(from: T): void {
    if (this.pinnedCount === 0) return;
    for (const b of this.items) {
      if (b.pinned !== from) continue;
      b.pinned = undefined;
      this.pinnedCount--;
    }
  }

  failAll(err: Error): void {
    this.pinnedCount = 0;
    for (const b of this.items.splice(0)) b.fail(err);
  }
}
