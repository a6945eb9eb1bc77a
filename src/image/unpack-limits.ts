import { Transform } from 'node:stream';

/**
 * How much one image may unpack into the store: bytes of file content and tar entries, summed over
 * its layers (cached ones included). A layer is untrusted input: a few KB of gzip can expand to
 * terabytes of zeros, and a tar of empty files can hold millions of inodes; without a cap either
 * fills the state folder's disk. The budget is charged while the layer streams, before each write,
 * so unpacking stops at the first byte (or entry) over the limit, not after writing everything.
 */

export interface UnpackLimits {
  /** Bytes of file content the image's layers may hold together. */
  maxBytes: number;
  /** Tar entries (files, folders, links, whiteouts…) the image's layers may hold together. */
  maxEntries: number;
}

export const MiB = 1024 * 1024;

export const DEFAULT_UNPACK_LIMITS: UnpackLimits = { maxBytes: 8 * 1024 * MiB, maxEntries: 1_000_000 };

/** Which limit was hit; the store turns it into an ImageError naming the layer (HTTP 413). */
export class UnpackLimitError extends Error {
  constructor(
    readonly limit: 'bytes' | 'entries',
    readonly max: number,
  ) {
    super(limit === 'bytes' ? `the image would unpack more than ${describeBytes(max)} (the limit; --max-image-mb)` : `the image would unpack more than ${max} entries (the limit; --max-image-entries)`);
    this.name = 'UnpackLimitError';
  }
}

/** Pure: a byte count as the flag takes it (`64 MB`), or exact bytes below 1 MB. */
export function describeBytes(n: number): string {
  return n % MiB === 0 ? `${n / MiB} MB` : n >= MiB ? `${(n / MiB).toFixed(1)} MB` : `${n} bytes`;
}

/** Pure: the limits from the flags' values (MB, entries), each checked; absent ones keep the default. */
export function unpackLimits(o: { maxMB?: number; maxEntries?: number } = {}): UnpackLimits {
  const check = (what: string, v: number | undefined): void => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new RangeError(`${what} must be a positive number, got ${String(v)}`);
  };
  check('the image size limit (MB)', o.maxMB);
  check('the image entry limit', o.maxEntries);
  return {
    maxBytes: o.maxMB !== undefined ? Math.floor(o.maxMB * MiB) : DEFAULT_UNPACK_LIMITS.maxBytes,
    maxEntries: o.maxEntries !== undefined ? Math.floor(o.maxEntries) : DEFAULT_UNPACK_LIMITS.maxEntries,
  };
}

/** What one pull has used of its limits so far; shared by the image's layers. */
export class UnpackBudget {
  bytes = 0;
  entries = 0;

  constructor(readonly limits: UnpackLimits = DEFAULT_UNPACK_LIMITS) {}

  /** Charges `n` bytes about to be written; throws (nothing charged) when they would pass the cap. */
  chargeBytes(n: number): void {
    if (this.bytes + n > this.limits.maxBytes) throw new UnpackLimitError('bytes', this.limits.maxBytes);
    this.bytes += n;
  }

  /** Checks that `n` more bytes would fit (a tar header's declared size), without charging them. */
  checkBytes(n: number): void {
    if (this.bytes + n > this.limits.maxBytes) throw new UnpackLimitError('bytes', this.limits.maxBytes);
  }

  /**
   * Bytes a layer's uncompressed tar stream may still have: what its content and entries may still
   * take, plus each entry's header, PAX record and padding (3 KiB is generous) and 16 MiB of slack.
   * Beyond that the stream holds what nothing writes (a skipped body, padding after the end
   * marker, PAX records): decompressing it would only burn time, so it is cut off too.
   */
  streamAllowance(): number {
    return this.limits.maxBytes - this.bytes + (this.limits.maxEntries - this.entries) * 3 * 1024 + 16 * MiB;
  }

  chargeEntries(n = 1): void {
    if (this.entries + n > this.limits.maxEntries) throw new UnpackLimitError('entries', this.limits.maxEntries);
    this.entries += n;
  }
}

/** A pass-through that fails with `over()` as soon as more than `max` bytes went through it. */
export function byteCap(max: number, over: () => Error): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > max) done(over());
      else done(null, chunk);
    },
  });
}
