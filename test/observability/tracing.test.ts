import { describe, it, expect, afterEach } from 'vitest';
import { createServer, request, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tracing } from '../../src/observability/tracing.js';
import { SpanNames, Attr } from '../../src/observability/semantic.js';
import { parseTraceparent } from '../../src/observability/traceparent.js';
import { addPhaseTimings, addStartTimings } from '../../src/observability/phase-timings.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function tmp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hivelab-tracing-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(() => r())));
  const addr = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${addr.port}` };
}

function post(url: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('invocation tracing', () => {
  it('a chain of two functions over an HTTP hop is one trace with both functions in order', async () => {
    const tracing = await Tracing.create({ sampleRate: 1, storeDir: await tmp() });
    cleanups.push(() => tracing.shutdown());
    // The second function's "gateway": continues whatever traceparent arrives, like context.invoke does.
    const { url } = await listen((req, res) => {
      const inv = tracing.startInvocation('second', 'inv-second', req.headers.traceparent);
      inv.span(SpanNames.functionProcess, () => undefined);
      inv.end('ok');
      res.end('done');
    });
    const first = tracing.startInvocation('first', 'inv-first');
    await first.span(SpanNames.functionProcess, async (span) => {
      const tp = span.traceparent();
      expect(tp).toBeDefined();
      expect(await post(url, { traceparent: tp! })).toBe('done');
    });
    first.end('ok');

    const a = tracing.store.get('inv-first');
    const b = tracing.store.get('inv-second');
    expect(a).toBeDefined();
    expect(b?.traceId).toBe(a!.traceId);
    expect(a!.summary.invocationIds).toEqual(['inv-first', 'inv-second']);
    expect(a!.summary.function).toBe('first');
    const names = a!.spans.map((s) => `${s.attributes[Attr.function] ?? ''}:${s.name}`);
    expect(names).toEqual(['first:invocation', ':function.process', 'second:invocation', ':function.process']);
    const [rootA, processA, rootB, processB] = a!.spans;
    expect(rootA!.parentSpanId).toBeUndefined();
    expect(processA!.parentSpanId).toBe(rootA!.spanId);
    expect(rootB!.parentSpanId).toBe(processA!.spanId);
    expect(processB!.parentSpanId).toBe(rootB!.spanId);
    // The child's work lies inside the parent's span on the shared time axis.
    expect(rootB!.startMs).toBeGreaterThanOrEqual(processA!.startMs);
    expect(rootB!.startMs + rootB!.durationMs).toBeLessThanOrEqual(processA!.startMs + processA!.durationMs + 1);
  });

  it("a cold start's trace carries its phases, worker timings and fault attributes", async () => {
    const tracing = await Tracing.create({ sampleRate: 1 });
    cleanups.push(() => tracing.shutdown());
    const inv = tracing.startInvocation('img', 'inv-cold', undefined, { [Attr.cold]: true });
    await inv.span(SpanNames.activatorQueue, () => new Promise((r) => setTimeout(r, 5)));
    const cold = inv.startSpan(SpanNames.coldStart, { [Attr.coldStartMode]: 'reap' });
    // The worker reports its restore timing as plain numbers.
    const t0 = Date.now();
    addPhaseTimings(inv, [
      { name: SpanNames.sandboxRestore, startEpochMs: t0, endEpochMs: t0 + 40, attributes: { 'hivelab.restore.ms': 40 } },
      { name: SpanNames.wsFetch, startEpochMs: t0 + 40, endEpochMs: t0 + 45, attributes: { [Attr.wsBytes]: 4096 * 300 } },
      { name: SpanNames.wsInstall, startEpochMs: t0 + 45, endEpochMs: t0 + 50, attributes: { [Attr.pagesPrefetched]: 300, [Attr.faultsOnDemand]: 12 } },
      { name: SpanNames.connect, startEpochMs: t0 + 50, endEpochMs: t0 + 51, error: 'ECONNREFUSED once, retried' },
    ], cold);
    cold.end();
    await expect(inv.span(SpanNames.functionProcess, async () => { throw new Error('handler failed'); })).rejects.toThrow('handler failed');
    inv.end('error', 'handler failed');

    const t = tracing.store.get('inv-cold')!;
    expect(t.summary.cold).toBe(true);
    expect(t.summary.error).toBe(true);
    const byName = new Map(t.spans.map((s) => [s.name, s]));
    const coldSpan = byName.get(SpanNames.coldStart)!;
    expect(byName.get(SpanNames.connect)).toMatchObject({ status: 'error', attributes: { 'error.message': 'ECONNREFUSED once, retried' } });
    for (const phase of [SpanNames.sandboxRestore, SpanNames.wsFetch, SpanNames.wsInstall, SpanNames.connect]) {
      expect(byName.get(phase)?.parentSpanId).toBe(coldSpan.spanId);
    }
    expect(byName.get(SpanNames.sandboxRestore)!.durationMs).toBeCloseTo(40, 0);
    expect(byName.get(SpanNames.wsInstall)!.attributes).toMatchObject({ [Attr.pagesPrefetched]: 300, [Attr.faultsOnDemand]: 12 });
    expect(byName.get(SpanNames.functionProcess)!.status).toBe('error');
    expect(byName.get(SpanNames.functionProcess)!.statusMessage).toBe('handler failed');
    expect(byName.get(SpanNames.activatorQueue)!.parentSpanId).toBe(byName.get(SpanNames.invocation)!.spanId);
  });

  it('turns duration-only worker timings into a sandbox span placed from the request time', async () => {
    const tracing = await Tracing.create({ sampleRate: 1 });
    cleanups.push(() => tracing.shutdown());
    const inv = tracing.startInvocation('f', 'inv-durations');
    const cold = inv.startSpan(SpanNames.coldStart);
    const asked = Date.now() - 100;
    addStartTimings(inv, asked, { startMs: 72.5, criuRestoreMs: 61 }, 'snapshot', cold);
    addStartTimings(inv, asked, { startMs: 300 }, 'boot', cold);
    cold.end();
    inv.end('ok');
    const spans = tracing.store.get('inv-durations')!.spans;
    const restore = spans.find((s) => s.name === SpanNames.sandboxRestore)!;
    expect(restore.startMs).toBeCloseTo(asked, 0);
    expect(restore.durationMs).toBeCloseTo(72.5, 1);
    expect(restore.attributes).toMatchObject({ [Attr.coldStartMode]: 'snapshot', 'hivelab.start.criuRestoreMs': 61 });
    expect(spans.find((s) => s.name === SpanNames.sandboxStart)!.durationMs).toBeCloseTo(300, 1);
  });

  it('ending the invocation ends spans left open (a crash path cannot leak them)', async () => {
    const tracing = await Tracing.create({ sampleRate: 1 });
    cleanups.push(() => tracing.shutdown());
    const inv = tracing.startInvocation('f', 'inv-open');
    inv.startSpan(SpanNames.queueProxyWait);
    inv.end('error', 'instance crashed');
    const t = tracing.store.get('inv-open')!;
    expect(t.spans.map((s) => s.name).sort()).toEqual([SpanNames.invocation, SpanNames.queueProxyWait].sort());
    expect(t.spans.find((s) => s.name === SpanNames.queueProxyWait)!.status).toBe('error');
  });

  it('sampling: off records nothing and shares one object; an unsampled caller stays unsampled downstream', async () => {
    const off = await Tracing.create({ sampleRate: 0 });
    cleanups.push(() => off.shutdown());
    const a = off.startInvocation('f', 'x1');
    const b = off.startInvocation('f', 'x2', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(a).toBe(b);
    expect(a.sampled).toBe(false);
    expect(a.span('s', () => 42)).toBe(42);
    a.end('ok');
    expect(off.store.size).toBe(0);

    const on = await Tracing.create({ sampleRate: 1 });
    cleanups.push(() => on.shutdown());
    const unsampledParent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    const inv = on.startInvocation('f', 'x3', unsampledParent);
    expect(inv.sampled).toBe(false);
    expect(inv.traceparent()).toBe(unsampledParent);
    inv.end();
    expect(on.store.size).toBe(0);

    const half = await Tracing.create({ sampleRate: 0.5 });
    cleanups.push(() => half.shutdown());
    let sampled = 0;
    for (let i = 0; i < 2000; i++) {
      const x = half.startInvocation('f', `h${i}`);
      if (x.sampled) sampled++;
      else expect(parseTraceparent(x.traceparent())?.sampled).toBe(false);
      x.end();
    }
    expect(sampled).toBeGreaterThan(800);
    expect(sampled).toBeLessThan(1200);
    expect(half.store.size).toBe(Math.min(sampled, 1000));
  });

  it('keeps traces on disk across a restart of the process', async () => {
    const storeDir = await tmp();
    const first = await Tracing.create({ sampleRate: 1, storeDir });
    const inv = first.startInvocation('hello', 'inv-before-restart');
    inv.span(SpanNames.functionProcess, () => undefined);
    inv.end('ok');
    await first.shutdown();
    // Even with sampling now off, the traces already taken are still served.
    const second = await Tracing.create({ sampleRate: 0, storeDir });
    cleanups.push(() => second.shutdown());
    expect(second.store.get('inv-before-restart')?.spans.map((s) => s.name)).toEqual([SpanNames.invocation, SpanNames.functionProcess]);
  });

  it('shuts down promptly when a collector is unreachable', async () => {
    const dead = await listen((req) => req.socket.destroy());
    const errors: Error[] = [];
    const tracing = await Tracing.create({ sampleRate: 1, zipkinUrl: `${dead.url}/api/v2/spans`, onExportError: (e) => errors.push(e) });
    tracing.startInvocation('f', 'inv-lost').end('ok');
    await tracing.shutdown();
    expect(errors.length).toBe(1);
    expect(tracing.store.get('inv-lost')).toBeDefined();
  });

  it('exports Zipkin v2 JSON and OTLP/HTTP to collectors, continuing an incoming trace', async () => {
    const zipkin: unknown[] = [];
    const otlp: unknown[] = [];
    const collector = (sink: unknown[]) => (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        sink.push({ path: req.url, type: req.headers['content-type'], body: JSON.parse(body) });
        res.writeHead(req.url === '/api/v2/spans' ? 202 : 200, { 'content-type': 'application/json' }).end('{}');
      });
    };
    const z = await listen(collector(zipkin));
    const o = await listen(collector(otlp));
    const tracing = await Tracing.create({ sampleRate: 1, zipkinUrl: `${z.url}/api/v2/spans`, otlpUrl: `${o.url}/v1/traces`, serviceName: 'control-plane' });
    cleanups.push(() => tracing.shutdown());
    const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const inv = tracing.startInvocation('hello', 'inv-export', incoming);
    inv.span(SpanNames.functionProcess, () => undefined);
    inv.end('ok');
    await tracing.flush();

    const zSpans = (zipkin as Array<{ body: Array<Record<string, unknown>> }>).flatMap((r) => r.body);
    expect(zSpans.map((s) => s.name).sort()).toEqual([SpanNames.functionProcess, SpanNames.invocation]);
    const zRoot = zSpans.find((s) => s.name === SpanNames.invocation)!;
    expect(zRoot.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(zRoot.parentId).toBe('00f067aa0ba902b7');
    expect((zRoot.localEndpoint as { serviceName: string }).serviceName).toBe('control-plane');
    expect((zRoot.tags as Record<string, string>)[Attr.invocationId]).toBe('inv-export');

    expect(otlp.length).toBeGreaterThan(0);
    const oBody = (otlp[0] as { path: string; body: { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ name: string; traceId: string }> }> }> } });
    expect(oBody.path).toBe('/v1/traces');
    const oSpans = oBody.body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    expect(oSpans.map((s) => s.name).sort()).toEqual([SpanNames.functionProcess, SpanNames.invocation]);
    expect(oSpans[0]!.traceId.toLowerCase()).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });
});

describe('traceparent', () => {
  it('parses valid headers and rejects malformed ones', () => {
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', sampled: true,
    });
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00')?.sampled).toBe(false);
    for (const bad of [
      '', 'garbage', '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra', '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
    ]) expect(parseTraceparent(bad), bad).toBeUndefined();
    // Future versions may append fields.
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what')?.sampled).toBe(true);
  });
});
