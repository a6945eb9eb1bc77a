/**
 * The SDK's wire form of an object passed by reference. Its own file (no imports) so the control
 * plane, which asks it of every invocation waiting for a cold start, does not load the in-sandbox SDK.
 */

/** True when `event` is exactly `{"$xdt": ref}` or `{"$ref": ref}` — an object passed by reference. */
export function eventRef(event: unknown): string | undefined {
  if (event === null || typeof event !== 'object' || Array.isArray(event) || Buffer.isBuffer(event)) return undefined;
  const keys = Object.keys(event);
  if (keys.length !== 1) return undefined;
  const v = (event as Record<string, unknown>)[keys[0]!];
  if ((keys[0] === '$xdt' || keys[0] === '$ref') && typeof v === 'string') return v;
  return undefined;
}
