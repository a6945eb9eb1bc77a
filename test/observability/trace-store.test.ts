import { describe, it, expect, afterEach } from 'vitest';
import { mkdtemp, rm, readFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraceStore } from '../../src/observability/trace-store.js';
import type { SpanRecord } from '../../src/observability/span-record.js';
import { renderWaterfall } from '../../src/observability/waterfall-text.js';

const dirs: string[] = [];
afterEach(async () => {
  while (dirs.length) await rm(dirs.pop()!, { recursive: true, force: true });
});

function span(trace: number, name: string, startMs: number, extra: Partial<SpanRecord> = {}): SpanRecord {
  return {
    traceId: trace.toString(16).padStart(32, '0'),
    spanId: `${trace.toString(16).padStart(8, '0')}${name.length.toString(16).padStart(8, '0')}`,
    name, startMs, durationMs: 10, status: 'unset', service: 'test', attributes: {}, ...extra,
  };
}

function invocation(trace: number, fn: string): SpanRecord[] {
  const root = span(trace, 'invocation', 1000 + trace, { attributes: { 'hivelab.function': fn, 'hivelab.invocation_id': `inv-${trace}` }, durationMs: 20 });
  const child = span(trace, 'function.process', 1005 + trace, { parentSpanId: root.spanId });
  return [child, root]; // children end first, so they arrive first
}

describe('trace store', () => {
  it('keeps only the newest traces, in memory and across a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hivelab-store-'));
    dirs.push(dir);
    const store = await TraceStore.open({ dir, maxTraces: 3 });
    for (let t = 1; t <= 5; t++) for (const s of invocation(t, t % 2 ? 'odd' : 'even')) store.add(s);
    expect(store.size).toBe(3);
    expect(store.get('inv-1')).toBeUndefined();
    expect(store.get('inv-2')).toBeUndefined();
    expect(store.list().map((s) => s.invocationIds[0])).toEqual(['inv-5', 'inv-4', 'inv-3']);
    expect(store.list({ function: 'odd' }).map((s) => s.invocationIds[0])).toEqual(['inv-5', 'inv-3']);
    expect(store.list({ last: 1 }).map((s) => s.invocationIds[0])).toEqual(['inv-5']);
    const t4 = store.get('inv-4')!;
    expect(t4.spans.map((s) => s.name)).toEqual(['invocation', 'function.process']);
    expect(t4.summary).toMatchObject({ function: 'even', spanCount: 2, startMs: 1004, durationMs: 20, error: false });
    await store.close();

    // A crash mid-append leaves a torn line; the store must still load the rest.
    await appendFile(join(dir, 'spans.jsonl'), '{"traceId":"torn');
    const again = await TraceStore.open({ dir, maxTraces: 3 });
    expect(again.list().map((s) => s.invocationIds[0])).toEqual(['inv-5', 'inv-4', 'inv-3']);
    expect(again.get(t4.traceId)?.spans).toEqual(t4.spans);
    await again.close();
  });

  it('compacts its file so the disk holds about the bound, not everything ever traced', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hivelab-store-'));
    dirs.push(dir);
    const store = await TraceStore.open({ dir, maxTraces: 10 });
    for (let t = 1; t <= 200; t++) {
      for (const s of invocation(t, 'f')) store.add(s);
      if (t % 7 === 0) await store.flush();
    }
    await store.close();
    const lines = (await readFile(join(dir, 'spans.jsonl'), 'utf8')).split('\n').filter(Boolean);
    expect(lines.length).toBeLessThanOrEqual(2 * 2 * 10 + 2);
    const reloaded = await TraceStore.open({ dir, maxTraces: 10 });
    expect(reloaded.list({ last: 100 }).map((s) => s.invocationIds[0])).toEqual(Array.from({ length: 10 }, (_, i) => `inv-${200 - i}`));
    await reloaded.close();
  });

  it('renders a terminal waterfall with children indented under their parent', async () => {
    const store = await TraceStore.open({ maxTraces: 5 });
    for (const s of invocation(7, 'hello')) store.add(s);
    const text = renderWaterfall(store.get('inv-7')!, 80);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toContain('hello');
    expect(lines[0]).toContain('inv-7');
    expect(lines[1]).toMatch(/^invocation\s+20\.0ms \|█{20,}/);
    expect(lines[2]).toMatch(/^ {2}function\.process\s+10\.0ms \| +█+ *\|$/);
    for (const l of lines.slice(1)) expect(l.length).toBeLessThanOrEqual(80);
  });
});
