import { afterAll, bench, describe } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tracing } from '../../src/observability/tracing.js';
import { SpanNames } from '../../src/observability/semantic.js';
import type { InvocationTrace } from '../../src/observability/invocation-trace.js';

// What tracing adds to one warm invocation in the control plane: the root, the phases the
// gateway/activator/queue-proxy time, a traceparent for the runtime. Run with
//   npx vitest bench --run test/observability
// and compare "tracing off" with "no tracing code at all"; the warm-path benchmark over HTTP
// (bench/warm-path) is where the end-to-end number belongs.

const off = await Tracing.create({ sampleRate: 0 });
const on = await Tracing.create({ sampleRate: 1, storeMaxTraces: 1000 });
const storeDir = mkdtempSync(join(tmpdir(), 'hivelab-bench-traces-'));
const onDisk = await Tracing.create({ sampleRate: 1, storeMaxTraces: 1000, storeDir });
afterAll(async () => {
  await onDisk.shutdown();
  rmSync(storeDir, { recursive: true, force: true });
});
let n = 0;
let sink = 0;

function warmPath(inv: InvocationTrace | undefined): number {
  const id = `inv-${n++}`;
  if (!inv) return id.length;
  inv.span(SpanNames.gateway, () => undefined);
  inv.span(SpanNames.activatorQueue, () => undefined);
  const tp = inv.traceparent();
  const r = inv.span(SpanNames.functionProcess, () => id.length + (tp ? 1 : 0));
  inv.end('ok');
  return r;
}

describe('per-invocation tracing cost', () => {
  bench('no tracing code at all', () => {
    sink += warmPath(undefined);
  });
  bench('tracing off (sampleRate 0)', () => {
    sink += warmPath(off.startInvocation('hello', `inv-${n}`));
  });
  bench('tracing on (sampleRate 1, in-memory store)', () => {
    sink += warmPath(on.startInvocation('hello', `inv-${n}`));
  });
  bench('tracing on (sampleRate 1, store on disk)', () => {
    sink += warmPath(onDisk.startInvocation('hello', `inv-${n}`));
  });
});
