import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { startTestPlatform, removeState, FIXTURES, type TestPlatform } from './harness.js';

interface Span {
  spanId: string;
  parentSpanId?: string;
  name: string;
  startMs: number;
  durationMs: number;
  attributes: Record<string, unknown>;
}

describe('tracing and metrics of the real platform', () => {
  let t: TestPlatform;

  beforeAll(async () => {
    t = await startTestPlatform();
    expect((await t.deploy(join(FIXTURES, 'echo-node'))).status).toBe(201);
  });
  afterAll(async () => {
    await t?.stop();
    await removeState(t.stateDir);
  });

  async function spansOf(invocationId: string): Promise<Span[]> {
    const r = await t.api('GET', `/v1/traces/${invocationId}`);
    expect(r.status).toBe(200);
    return r.json().spans as Span[];
  }

  it("a cold start's trace carries the cold-start phases, nested in order", async () => {
    const r = await t.invoke('echo-node', { hello: 1 });
    expect(r.headers['x-hivelab-cold']).toBe('1');
    const spans = await spansOf(r.headers['x-hivelab-invocation-id']!);
    const byName = (n: string) => spans.find((s) => s.name === n);
    const root = spans.find((s) => !s.parentSpanId)!;
    expect(root.name).toBe('invocation');
    const queue = byName('activator.queue')!;
    const cold = byName('coldstart')!;
    const sandbox = byName('coldstart.sandbox.start')!;
    const process = byName('function.process')!;
    for (const s of [queue, cold, sandbox, process]) expect(s, 'missing span').toBeDefined();
    expect(queue.parentSpanId).toBe(root.spanId);
    expect(cold.parentSpanId).toBe(queue.spanId);
    expect(sandbox.parentSpanId).toBe(cold.spanId);
    // the start's wait for one of its worker's start slots (worker/start-admission.ts), before it
    const startQueue = byName('coldstart.queue')!;
    expect(startQueue, 'missing span').toBeDefined();
    expect(startQueue.parentSpanId).toBe(cold.spanId);
    expect(startQueue.startMs + startQueue.durationMs).toBeLessThanOrEqual(sandbox.startMs + 1);
    expect(process.parentSpanId).toBe(root.spanId);
    expect(cold.attributes['hivelab.coldstart.mode']).toBe('boot');
    expect(process.attributes['hivelab.instance_id']).toBe(r.headers['x-hivelab-instance-id']);
    // The function ran after its instance had started.
    expect(process.startMs).toBeGreaterThanOrEqual(sandbox.startMs);
    expect(root.durationMs).toBeGreaterThanOrEqual(process.durationMs);
  });

  it('a warm invocation has no cold-start spans, and an incoming traceparent is continued', async () => {
    const traceId = 'ab'.repeat(16);
    const { request } = await import('undici');
    const res = await request(`${t.platform.url}/invoke/echo-node`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${t.platform.tokens.invoke}`,
        'content-type': 'application/json',
        traceparent: `00-${traceId}-${'cd'.repeat(8)}-01`,
      },
      body: '{}',
    });
    await res.body.dump();
    expect(res.headers['x-hivelab-cold']).toBe('0');
    const r = await t.api('GET', `/v1/traces/${res.headers['x-hivelab-invocation-id']}`);
    const trace = r.json();
    expect(trace.traceId).toBe(traceId);
    const names = (trace.spans as Span[]).map((s) => s.name);
    expect(names).toContain('function.process');
    expect(names).not.toContain('coldstart');
  });

  it('serves Prometheus metrics that count invocations and cold starts', async () => {
    const res = await t.api('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain; version=0\.0\.4/);
    const text = res.body.toString();
    // Every sample line is `name{labels} value`, every family has HELP and TYPE.
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.eE+-]+$|^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (\+Inf|NaN)$/);
    }
    const invocations = text.split('\n').filter((l) => l.includes('function="echo-node"') && /^hivelab_invocations_total/.test(l));
    expect(invocations.length).toBeGreaterThan(0);
    const total = invocations.reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
    expect(total).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/hivelab_cold_starts_total\{[^}]*function="echo-node"[^}]*\} 1/);
  });

  it('the metrics and traces need the admin token', async () => {
    expect((await t.api('GET', '/metrics', undefined, null)).status).toBe(401);
    expect((await t.api('GET', '/metrics', undefined, t.platform.tokens.invoke)).status).toBe(403);
  });
});
