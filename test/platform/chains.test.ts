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
