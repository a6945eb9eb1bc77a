import type { Invocation } from '../core/invocation.js';
import type { TraceSpan } from '../core/trace.js';
import { SpanNames } from '../observability/semantic.js';
import { lbPolicyFor, pickInstance, type Slotted } from './load-balancing.js';
import { RequestBuffer } from './request-buffer.js';

/** What the activator needs to know of an instance, and the one thing it writes (`reserved`). */
export interface ActivatorInstance extends Slotted {
  /** Slots promised to invocations released from the buffer but not yet inside the queue-proxy. */
  reserved: number;
  /** Invocations inside its queue-proxy now. */
  readonly admitted: number;
  /** Invocations it has served (0: fresh, so whoever it takes first paid the cold start). */
  readonly served: number;
  readonly concurrency: number;
}

/** The activator's seam to the controller that owns the instances: which may take work, and a poke. */
export interface ActivatorHost<T> {
  /** Instances that may take invocations now (the current version's, ready or busy). */
  routable(): T[];
  /** Invocations are waiting and no instance has a free slot: decide about capacity now. */
  askForCapacity(): void;
}

export interface ActivatorOptions {
  functionName: string;
  /** The function's container concurrency: picks the load-balancing policy. */
  concurrency: number;
  /** Invocations the buffer holds before it answers 503. */
  queueDepth: number;
  /** Longest an invocation waits for an instance before 503 (or 504 at its own deadline). */
  timeoutMs: number;
}

export interface Routed<T> {
  instance: T;
  /** The span of the wait in the buffer, when the invocation had to wait (a cold start's parent). */
  waited?: TraceSpan;
}

/**
 * Knative's activator for one function: routes each invocation to an instance with a free slot, or
 * holds it in a bounded buffer and asks for capacity; drains the buffer as instances come up or
 * free a slot, first handing invocations to the instances already pulling their objects (XDT
 * prefetch pins). It starts and stops nothing: instance lifecycle and scaling are the controller's.
 */
export class Activator<T extends ActivatorInstance> {
  private readonly buffer: RequestBuffer<T>;
  private readonly cursor = { next: 0 };
  /** The load-balancing policy follows the current version's concurrency (a redeploy may change it). */
  concurrency: number;

  constructor(
    opts: ActivatorOptions,
    private readonly host: ActivatorHost<T>,
  ) {
    this.concurrency = opts.concurrency;
    this.buffer = new RequestBuffer(opts.functionName, opts.queueDepth, opts.timeoutMs);
  }

  /** Invocations waiting for an instance. */
  get buffered(): number {
    return this.buffer.length;
  }

  /**
   * The instance the invocation goes to: one with a free slot now, or the one the buffer releases
   * it to. Rejects with 503 when the buffer is full or nothing frees in time, 504 at its deadline.
   */
  async route(inv: Invocation): Promise<Routed<T>> {
    const routable = this.host.routable();
    const i = pickInstance(lbPolicyFor(this.concurrency), routable, this.cursor);
    if (i >= 0) return { instance: routable[i]! };
    const waited = inv.trace.startSpan(SpanNames.activatorQueue);
    const waiting = this.buffer.wait(inv);
    // The activator's poke: a buffered request asks for a scaling decision at once.
    this.host.askForCapacity();
    let instance: T;
    try {
      instance = await waiting;
    } catch (err) {
      waited.end('error', (err as Error).message);
      throw err;
    }
    instance.reserved--;
    waited.end();
    return { instance, waited };
  }

  /** Hands buffered invocations to instances with free slots; asks for capacity if some still wait. */
  drain(): void {
    if (this.buffer.length === 0) return;
    const policy = lbPolicyFor(this.concurrency);
    while (this.buffer.length > 0) {
      const routable = this.host.routable();
      // first the invocations whose objects these very instances are already pulling
      let next = this.buffer.takePinned((r) => r.inFlight < r.capacity && routable.includes(r));
      let inst = next?.pinned;
      if (!inst || !next) {
        const i = pickInstance(policy, routable, this.cursor);
        next = i < 0 ? undefined : this.buffer.shift();
        if (!next) break;
        inst = routable[i]!;
      }
      inst.reserved++;
      // An invocation that waited for this instance to start paid the cold start.
      if (inst.served === 0 && inst.reserved + inst.admitted <= inst.concurrency) next.inv.cold = true;
      next.release(inst);
    }
    if (this.buffer.length > 0) this.host.askForCapacity();
  }

  /**
   * Pins the oldest waiting invocation that `accept`s to `to`, an instance being started for it whose
   * sidecar pulls its object meanwhile; returns that invocation.
   */
  pin(to: T, accept: (inv: Invocation) => boolean): Invocation | undefined {
    return this.buffer.pin(to, accept)?.inv;
  }

  /** `from` will never serve: what was pinned to it waits for any instance again. */
  unpin(from: T): void {
    this.buffer.unpin(from);
  }

  /** Fails every waiting invocation (nothing could serve them, or the function was removed). */
  failAll(err: Error): void {
    this.buffer.failAll(err);
  }
}
