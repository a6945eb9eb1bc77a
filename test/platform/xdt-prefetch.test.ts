/**
 * XDT overlaps the pull with the consumer's cold start (thesis §6.4.1): an invocation whose event is
 * a reference and that has to wait for a new instance is pinned to that instance, and the instance's
 * sidecar starts pulling the object before the runtime is up. The trace's cold-start span says so.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { startTestPlatform, removeState, FIXTURES, type TestPlatform } from './harness.js';

interface Span {
  spanId: string;
  parentSpanId?: string;
  name: string;
  startMs: number;
  attributes: Record<string, unknown>;
}

describe('XDT prefetch during the consumer cold start', () => {
  let t: TestPlatform;

  beforeAll(async () => {
    t = await startTestPlatform();
    for (const f of ['chain-a-node', 'chain-b-node', 'chain-b-python']) expect((await t.deploy(join(FIXTURES, f))).status).toBe(201);
  });
  afterAll(async () => {
    await t?.stop();
    await removeState(t.stateDir);
  });

  /** The consumer's cold-start span in the chain's trace, if its invocation waited for a cold start. */
  async function consumerColdStart(outerInvocationId: string, consumer: string): Promise<Span | undefined> {
    const spans = (await t.api('GET', `/v1/traces/${outerInvocationId}`)).json().spans as Span[];
    const inner = spans.find((s) => s.name === 'invocation' && s.attributes['hivelab.function'] === consumer)!;
    expect(inner).toBeDefined();
    const under = (parent: Span): Span[] => spans.filter((s) => s.parentSpanId === parent.spanId).flatMap((s) => [s, ...under(s)]);
    return under(inner).find((s) => s.name === 'coldstart');
  }

  it('a cold consumer of an XDT invoke starts pulling while it starts, and gets the object intact', async () => {
    const r = await t.invoke('chain-a-node', { next: 'chain-b-node', transfer: 'xdt', bytes: 4 * 1024 * 1024 + 3 });
    expect(r.status, r.body.toString()).toBe(200);
    expect(r.json().reply.received).toBe(r.json().sent);
    const cold = await consumerColdStart(r.headers['x-hivelab-invocation-id']!, 'chain-b-node');
    expect(cold?.attributes['hivelab.xdt.prefetch']).toBe(true);

    // warm now: nothing to overlap, and the object still arrives
    const again = await t.invoke('chain-a-node', { next: 'chain-b-node', transfer: 'xdt', bytes: 1000 });
    expect(again.json().reply.received).toBe(again.json().sent);
    expect(await consumerColdStart(again.headers['x-hivelab-invocation-id']!, 'chain-b-node')).toBeUndefined();
  });

  it('an event that is not a reference is not prefetched (inline to a cold Python consumer)', async () => {
    const r = await t.invoke('chain-a-node', { next: 'chain-b-python', transfer: 'inline', bytes: 1000 });
    expect(r.status, r.body.toString()).toBe(200);
    const cold = await consumerColdStart(r.headers['x-hivelab-invocation-id']!, 'chain-b-python');
    expect(cold).toBeDefined();
    expect(cold!.attributes['hivelab.xdt.prefetch']).toBeUndefined();
  });
});
