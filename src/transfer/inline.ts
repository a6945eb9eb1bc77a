/**
 * The inline transport: the object travels inside the reference (for put/get) or the invocation body
 * (for invoke), as AWS Lambda payloads do; capped at the gateway's inline limit (6 MB by default).
 */
import { randomBytes } from 'node:crypto';
import { TransferError } from './errors.js';
import { readAll, type IncomingObject, type OutgoingObject } from './object-stream.js';
import { sealReference, type RefPayload } from './reference.js';

export function inlineTooLarge(limit: number): TransferError {
  return new TransferError('InlineTooLarge', `object exceeds the inline limit of ${limit} B; use transfer "xdt", "storage" or "redis"`);
}

export async function putInline(sealKey: Buffer, obj: IncomingObject, limit: number, ttlMs: number, retrievals = 1): Promise<string> {
  if (obj.size > limit) throw inlineTooLarge(limit);
  const data = await readAll(obj.body, limit, () => inlineTooLarge(limit));
  // `i` names the reference in the retrieval ledger: the bytes travel in it, so nothing else can count
  return sealReference(sealKey, {
    t: 'inline',
    c: obj.contentType,
    d: data.toString('base64'),
    e: Date.now() + ttlMs,
    i: randomBytes(12).toString('base64url'),
    n: retrievals,
  });
}

export function getInline(payload: Extract<RefPayload, { t: 'inline' }>): OutgoingObject {
  const body = Buffer.from(payload.d, 'base64');
  return { contentType: payload.c, size: body.length, body };
}
