/**
 * The object reference an invocation's event is (`{"$xdt": ref}` / `{"$ref": ref}`, what
 * `context.invoke` with a transport sends), or undefined. The control plane asks this of every
 * invocation waiting for a cold start, so anything else is turned away without parsing: only small
 * JSON bodies written the way the sidecar writes them (compact, the key first) are parsed.
 */
import { eventRef } from '../runtime/node/event-ref.js';

const MAX_REFERENCE_EVENT_BYTES = 64 * 1024;
const PREFIXES = ['{"$xdt":', '{"$ref":'].map((p) => Buffer.from(p));

export function referenceEvent(body: Buffer, contentType: string | undefined): string | undefined {
  if (body.length > MAX_REFERENCE_EVENT_BYTES || !(contentType ?? 'application/json').toLowerCase().startsWith('application/json')) return undefined;
  if (!PREFIXES.some((p) => body.subarray(0, p.length).equals(p))) return undefined;
  try {
    return eventRef(JSON.parse(body.toString('utf8')));
  } catch {
    return undefined;
  }
}
