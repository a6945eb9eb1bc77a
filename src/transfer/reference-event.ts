/**
 * The object reference an invocation's event is (`{"$xdt": ref}` / `{"$ref": ref}`, what
 * `context.invoke` with a transport sends), or undefined. Only small JSON bodies are looked at: a
 * reference event is a few hundred bytes, and the control plane calls this on its cold-start path.
 */
import { eventRef } from '../runtime/node/sdk.js';

const MAX_REFERENCE_EVENT_BYTES = 64 * 1024;

export function referenceEvent(body: Buffer, contentType: string | undefined): string | undefined {
  if (body.length > MAX_REFERENCE_EVENT_BYTES || !(contentType ?? 'application/json').toLowerCase().startsWith('application/json')) return undefined;
  try {
    return eventRef(JSON.parse(body.toString('utf8')));
  } catch {
    return undefined;
  }
}
