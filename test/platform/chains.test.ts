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

describe('function chains through the platform (context.invoke)', () => {
  let t: TestPlatform;

  beforeAll(async () => {
    t = await startTestPlatform();
    for (const f of ['chain-a-node', 'chain-b-node', 'chain-b-python']) expect((await t.deploy(join(FIXTURES, f))).status).toBe(201);
  });
  afterAll(async () => {
    await t?.stop();
    await removeState(t.stateDir);
  });

  // First, while chain-b-node and chain-b-python are still scaled to zero. XDT overlaps the pull
  // with the consumer's cold start (thesis §6.4.1): an invocation whose event is a reference and
  // that waits for a new instance is pinned to it, and its sidecar starts pulling before the runtime
  // is up; the trace's cold-start span says so.
  async function consumerColdStart(outerInvocationId: string, consumer: string): Promise<Span | undefined> {
    const spans = (await t.api('GET', `/v1/traces/${outerInvocationId}`)).json().spans as Span[];
    const inner = spans.find((s) => s.name === 'invocation' && s.attributes['hivelab.function'] === consumer)!;
    expect(inner).toBeDefined();
    const under = (parent: Span): Span[] => spans.filter((s) => s.parentSpanId === parent.spanId).flatMap((s) => [s, ...under(s)]);
    return under(inner).find((s) => s.name === 'coldstart');
  }

  it('xdt: a cold consumer starts pulling while it starts, and gets the object intact', async () => {
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

  for (const transfer of ['inline', 'storage', 'redis', 'xdt']) {
    for (const next of ['chain-b-node', 'chain-b-python']) {
      it(`${transfer}: 1 MB reaches ${next} byte-for-byte`, async () => {
        const r = await t.invoke('chain-a-node', { next, transfer, bytes: 1024 * 1024 });
        expect(r.status, r.body.toString()).toBe(200);
        const out = r.json();
        expect(out.reply.bytes).toBe(1024 * 1024);
        expect(out.reply.received).toBe(out.sent);
      });
    }
  }

  it('xdt: 100 MB, more than the inline limit, reaches the consumer intact', async () => {
    const r = await t.invoke('chain-a-node', { next: 'chain-b-node', transfer: 'xdt', bytes: 100 * 1024 * 1024 });
    expect(r.status, r.body.toString()).toBe(200);
    expect(r.json().reply.received).toBe(r.json().sent);
  });

  it('inline beyond the limit fails with a clear error instead of hanging', async () => {
    const r = await t.invoke('chain-a-node', { next: 'chain-b-node', transfer: 'inline', bytes: 7 * 1024 * 1024 });
    expect(r.status).toBe(502);
    expect(r.body.toString()).toMatch(/InlineTooLarge|PayloadTooLarge|inline limit/);
  });

  it('a chain of two functions is one trace with both functions’ spans in order', async () => {
    const r = await t.invoke('chain-a-node', { next: 'chain-b-node', transfer: 'inline', bytes: 64 });
    expect(r.status).toBe(200);
    const trace = (await t.api('GET', `/v1/traces/${r.headers['x-hivelab-invocation-id']}`)).json();
    const spans = trace.spans as Span[];
    const roots = spans.filter((s) => s.name === 'invocation');
    expect(roots).toHaveLength(2);
    const [outer, inner] = roots.sort((a, b) => a.startMs - b.startMs);
    expect(outer!.attributes['hivelab.function']).toBe('chain-a-node');
    expect(inner!.attributes['hivelab.function']).toBe('chain-b-node');
    // The callee's root hangs under the caller's function.process span.
    const callerProcess = spans.find((s) => s.name === 'function.process' && s.parentSpanId === outer!.spanId)!;
    expect(inner!.parentSpanId).toBe(callerProcess.spanId);
    expect(trace.summary.invocationIds).toHaveLength(2);
  });
});
