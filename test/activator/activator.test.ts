/**
 * The activator alone, with fake instances and a fake clock: routing to a free slot, buffering
 * when there is none (and asking for capacity), the drain as instances come up, XDT pins, cold
 * marking, and the buffer's bounds in depth and time.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Activator, type ActivatorInstance } from '../../src/activator/activator.js';
import type { Invocation } from '../../src/core/invocation.js';
import { HttpError } from '../../src/core/errors.js';
import { TRACING_OFF } from '../../src/observability/invocation-trace.js';

class FakeInstance implements ActivatorInstance {
  reserved = 0;
  admitted = 0;
  served = 0;
  ready = false;
  constructor(
    readonly id: string,
    readonly concurrency = 1,
  ) {}
  get inFlight(): number {
    return this.admitted + this.reserved;
  }
  get capacity(): number {
    return this.ready ? this.concurrency : 0;
  }
}

function invocation(id: string, deadlineInMs = 60_000): Invocation {
  return { id, functionName: 'f', body: Buffer.from(id), contentType: 'application/json', traceparent: undefined, deadline: Date.now() + deadlineInMs, cold: false, retries: 0, trace: TRACING_OFF };
}

function setup(opts: { concurrency?: number; queueDepth?: number; timeoutMs?: number } = {}) {
  const instances: FakeInstance[] = [];
  let asks = 0;
  const activator = new Activator<FakeInstance>(
    { functionName: 'f', concurrency: opts.concurrency ?? 1, queueDepth: opts.queueDepth ?? 10, timeoutMs: opts.timeoutMs ?? 10_000 },
    { routable: () => instances.filter((i) => i.ready), askForCapacity: () => asks++ },
  );
  return { activator, instances, asks: () => asks };
}

/** The instance's queue-proxy takes the invocation the activator routed to it. */
function admit(inst: FakeInstance): void {
  inst.admitted++;
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('activator', () => {
  it('routes to an instance with a free slot at once, without buffering or asking for capacity', async () => {
    const { activator, instances, asks } = setup();
    const a = new FakeInstance('a');
    a.ready = true;
    instances.push(a);
    const routed = await activator.route(invocation('1'));
    expect(routed.instance).toBe(a);
    expect(routed.waited).toBeUndefined();
    expect(activator.buffered).toBe(0);
    expect(asks()).toBe(0);
  });

  it('packs instances first-available at concurrency ≤ 3 and spreads round robin above', async () => {
    const packed = setup({ concurrency: 2 });
    const [a, b] = [new FakeInstance('a', 2), new FakeInstance('b', 2)];
    a.ready = b.ready = true;
    packed.instances.push(a, b);
    for (let n = 0; n < 3; n++) admit((await packed.activator.route(invocation(`p${n}`))).instance);
    expect([a.admitted, b.admitted]).toEqual([2, 1]);

    const spread = setup({ concurrency: 4 });
    const [c, d] = [new FakeInstance('c', 4), new FakeInstance('d', 4)];
    c.ready = d.ready = true;
    spread.instances.push(c, d);
    for (let n = 0; n < 4; n++) admit((await spread.activator.route(invocation(`s${n}`))).instance);
    expect([c.admitted, d.admitted]).toEqual([2, 2]);
  });

  it('buffers when no slot is free, asks for capacity, and the drain hands the invocation to a new instance as a cold start', async () => {
    const { activator, instances, asks } = setup();
    const inv = invocation('1');
    const routing = activator.route(inv);
    expect(activator.buffered).toBe(1);
    expect(asks()).toBe(1);

    const a = new FakeInstance('a');
    instances.push(a);
    activator.drain(); // starting, not routable yet: nothing moves, and capacity is asked for again
    expect(activator.buffered).toBe(1);
    expect(asks()).toBe(2);

    a.ready = true;
    activator.drain();
    const routed = await routing;
    expect(routed.instance).toBe(a);
    expect(routed.waited).toBeDefined();
    expect(inv.cold).toBe(true);
    expect(a.reserved).toBe(0); // the promised slot is handed over to the queue-proxy
    expect(activator.buffered).toBe(0);
  });

  it('does not mark an invocation cold when the instance it is released to has served before', async () => {
    const { activator, instances } = setup();
    const a = new FakeInstance('a');
    a.ready = true;
    a.admitted = 1;
    a.served = 5;
    instances.push(a);
    const inv = invocation('1');
    const routing = activator.route(inv);
    a.admitted = 0; // its request finished
    activator.drain();
    expect((await routing).instance).toBe(a);
    expect(inv.cold).toBe(false);
  });

  it('releases no more invocations to an instance than it has slots', async () => {
    const { activator, instances } = setup({ concurrency: 2 });
    const routings = ['1', '2', '3'].map((id) => activator.route(invocation(id)));
    const a = new FakeInstance('a', 2);
    a.ready = true;
    instances.push(a);
    activator.drain();
    expect(activator.buffered).toBe(1);
    expect(a.reserved).toBe(2);
    await Promise.all(routings.slice(0, 2));
    expect(a.reserved).toBe(0);
    void routings[2]!.catch(() => {});
    activator.failAll(new HttpError(404, 'NotFound', 'removed'));
  });

  it('gives a pinned invocation to the instance pulling its object, ahead of older ones', async () => {
    const { activator, instances } = setup();
    const older = invocation('plain');
    const ref = invocation('ref');
    const olderRouting = activator.route(older);
    const refRouting = activator.route(ref);
    const x = new FakeInstance('x');
    instances.push(x);
    expect(activator.pin(x, (i) => i.id === 'ref')).toBe(ref);
    x.ready = true;
    activator.drain();
    admit((await refRouting).instance);
    expect(x.admitted).toBe(1);
    expect(activator.buffered).toBe(1); // the older one waits for a slot of its own
    const y = new FakeInstance('y');
    y.ready = true;
    instances.push(y);
    activator.drain();
    expect((await olderRouting).instance).toBe(y);
  });

  it('lets an invocation pinned to an instance that will never serve go to any instance', async () => {
    const { activator, instances } = setup();
    const ref = invocation('ref');
    const routing = activator.route(ref);
    const doomed = new FakeInstance('doomed');
    activator.pin(doomed, () => true);
    const other = new FakeInstance('other');
    other.ready = true;
    instances.push(other);
    activator.drain();
    expect(activator.buffered).toBe(1); // pinned: only its own instance takes it
    activator.unpin(doomed);
    activator.drain();
    expect((await routing).instance).toBe(other);
  });

  it('answers 503 when the buffer is full', async () => {
    const { activator } = setup({ queueDepth: 2 });
    const waiting = [activator.route(invocation('1')), activator.route(invocation('2'))];
    await expect(activator.route(invocation('3'))).rejects.toMatchObject({ status: 503, type: 'Overloaded' });
    for (const w of waiting) void w.catch(() => {});
    activator.failAll(new HttpError(404, 'NotFound', 'removed'));
  });

  it('answers 503 when no instance frees within the activator timeout, 504 at the invocation deadline first', async () => {
    const { activator } = setup({ timeoutMs: 5_000 });
    const slow = activator.route(invocation('1'));
    const expectSlow = expect(slow).rejects.toMatchObject({ status: 503, type: 'NoInstance' });
    const short = activator.route(invocation('2', 1_000));
    const expectShort = expect(short).rejects.toMatchObject({ status: 504, type: 'Timeout' });
    await vi.advanceTimersByTimeAsync(1_000);
    await expectShort;
    expect(activator.buffered).toBe(1);
    await vi.advanceTimersByTimeAsync(4_000);
    await expectSlow;
    expect(activator.buffered).toBe(0);
  });

  it('fails every waiting invocation with the reason when nothing can serve them', async () => {
    const { activator } = setup();
    const waiting = [activator.route(invocation('1')), activator.route(invocation('2'))];
    activator.failAll(new HttpError(502, 'InstanceStartFailed', 'the handler does not import'));
    for (const w of waiting) await expect(w).rejects.toMatchObject({ status: 502, type: 'InstanceStartFailed' });
    expect(activator.buffered).toBe(0);
  });
});
