/**
 * The consumer side of xdt-bench: `gotAt` is stamped as soon as the object is in the handler's hands
 * (for invoke with a transport the runtime shim has already pulled it; for `{ref}` events we get it).
 * event: object | {ref} → {gotAt, bytes}
 */
const now = () => performance.timeOrigin + performance.now();

export function check(buf) {
  if (!Buffer.isBuffer(buf)) throw new Error(`expected bytes, got ${typeof buf}`);
  // spot checks: a shifted, truncated or foreign object fails, without a full pass over 100 MB
  for (const i of [0, buf.length >> 1, buf.length - 1]) if (buf.length > 0 && buf[i] !== 0x5a) throw new Error(`byte ${i} is ${buf[i]}`);
  return buf.length;
}

export async function handler(event, context) {
  const obj = Buffer.isBuffer(event) ? event : await context.get(event.ref);
  const gotAt = now();
  return { gotAt, bytes: check(obj) };
}
