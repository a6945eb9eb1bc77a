import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** A content digest as OCI writes it: `sha256:<64 hex>` (the only algorithm accepted here). */
export const DIGEST = /^sha256:[a-f0-9]{64}$/;

export class DigestMismatchError extends Error {
  constructor(
    readonly what: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${what}: digest mismatch (expected ${expected}, got ${actual}); refusing it`);
    this.name = 'DigestMismatchError';
  }
}

/** Checks a digest's form (a digest is also a file name in the caches: nothing else may pass). */
export function checkDigest(d: unknown, what: string): string {
  if (typeof d !== 'string' || !DIGEST.test(d)) throw new Error(`${what}: ${JSON.stringify(d)} is not a sha256 digest (only sha256:<64 hex> is supported)`);
  return d;
}

export function hexOf(digest: string): string {
  return checkDigest(digest, 'digest').slice('sha256:'.length);
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function verifyBytes(data: Buffer, expected: string, what: string): Buffer {
  const actual = sha256(data);
  if (actual !== expected) throw new DigestMismatchError(what, expected, actual);
  return data;
}

/** A pass-through stream that hashes what flows through it and counts the bytes. */
export class HashTap extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;
  private result: string | undefined;
  constructor(private readonly onBytes?: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(chunk.length);
    cb(null, chunk);
  }
  /** Valid once the stream ended. */
  digest(): string {
    this.result ??= `sha256:${this.hash.digest('hex')}`;
    return this.result;
  }
}
