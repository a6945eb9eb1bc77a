/**
 * The producer side of xdt-bench's transfer patterns (thesis §6.5), run as a real function.
 * Latency is from the producer starting its transfer (invoke or put) to the last consumer holding
 * the object; times are epoch milliseconds with sub-ms resolution (performance.timeOrigin + now),
 * comparable across the instances of one host.
 *
 * event: {pattern: "1-1"|"scatter"|"broadcast"|"gather"|"gather-part", sizeBytes, degree, transfer}
 * → {latencyMs, bytes} (gather-part → {ref, startedAt})
 */
const now = () => performance.timeOrigin + performance.now();

let object = Buffer.alloc(0);
function objectOf(size) {
  // one buffer per instance and size, filled with a pattern the consumer checks
  if (object.length !== size) object = Buffer.alloc(size, 0x5a);
  return object;
}

function expectBytes(r, size) {
  if (r.bytes !== size) throw new Error(`consumer got ${r.bytes} B instead of ${size}`);
  return r;
}

export async function handler(event, context) {
  const { pattern, sizeBytes: size, degree = 1, transfer } = event;
  const obj = objectOf(size);
  switch (pattern) {
    case '1-1':
    case 'scatter': {
      // the object rides the invocation itself (context.invoke with a transport): cut-through for xdt
      const n = pattern === '1-1' ? 1 : degree;
      const t0 = now();
      const got = await Promise.all(Array.from({ length: n }, async () => expectBytes(await context.invoke('xb-consumer', obj, { transfer }), size)));
      return { latencyMs: Math.max(...got.map((g) => g.gotAt)) - t0, bytes: size * n };
    }
    case 'broadcast': {
      const t0 = now();
      const ref = await context.put(obj, { transfer, retrievals: degree });
      const got = await Promise.all(Array.from({ length: degree }, async () => expectBytes(await context.invoke('xb-consumer', { ref }), size)));
      return { latencyMs: Math.max(...got.map((g) => g.gotAt)) - t0, bytes: size * degree };
    }
    case 'gather': {
      const parts = await Promise.all(Array.from({ length: degree }, () => context.invoke('xb-producer', { pattern: 'gather-part', sizeBytes: size, transfer })));
      const got = await context.invoke('xb-gatherer', { refs: parts.map((p) => p.ref), sizeBytes: size });
      return { latencyMs: got.gotAt - Math.min(...parts.map((p) => p.startedAt)), bytes: size * degree };
    }
    case 'gather-part': {
      const startedAt = now();
      const ref = await context.put(obj, { transfer, retrievals: 1 });
      return { ref, startedAt };
    }
    default:
      throw new Error(`unknown pattern ${pattern}`);
  }
}
