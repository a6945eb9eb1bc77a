/** The gather consumer of xdt-bench: retrieves all producers' objects at once. event: {refs, sizeBytes} → {gotAt, bytes: all of them} */
const now = () => performance.timeOrigin + performance.now();

export async function handler(event, context) {
  const sizes = await Promise.all(
    event.refs.map(async (ref) => {
      const b = await context.get(ref);
      if (!Buffer.isBuffer(b) || b.length !== event.sizeBytes || (b.length > 0 && b[b.length - 1] !== 0x5a)) throw new Error('gathered object is not the one produced');
      return b.length;
    }),
  );
  const gotAt = now();
  return { gotAt, bytes: sizes.reduce((n, s) => n + s, 0) };
}
