import { randomBytes, randomFillSync } from 'node:crypto';

/** Short random id; 48 bits is plenty for ids that live for one platform run. */
export function shortId(bytes = 6): string {
  return randomBytes(bytes).toString('hex');
}

// Invocation ids are drawn on the warm path: one 4 KiB fill serves 512 of them instead of one
// call into OpenSSL per request.
const pool = Buffer.allocUnsafe(4096);
let offset = pool.length;

/** 64 random bits as 16 hex digits. */
export function newInvocationId(): string {
  if (offset + 8 > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('hex', offset, offset + 8);
  offset += 8;
  return id;
}

export function newInstanceId(functionName: string): string {
  return `${functionName}-${shortId(4)}`;
}
