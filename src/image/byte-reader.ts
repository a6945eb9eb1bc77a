/**
 * Pulls exact byte counts out of a chunked stream: what a tar reader needs (a 512-byte header,
 * then a body of known size) without holding more than one chunk.
 */
export class ByteReader {
  private readonly it: AsyncIterator<Buffer>;
  private pending: Buffer = Buffer.alloc(0);
  private done = false;

  constructor(source: AsyncIterable<Buffer | string>) {
    const inner = source[Symbol.asyncIterator]();
    this.it = {
      next: async () => {
        const r = await inner.next();
        return r.done ? r : { done: false, value: typeof r.value === 'string' ? Buffer.from(r.value) : r.value };
      },
    };
  }

  private async fill(): Promise<boolean> {
    while (this.pending.length === 0 && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.pending = r.value;
    }
    return this.pending.length > 0;
  }

  /** The next chunk of at most `max` bytes; empty at the end. */
  async take(max: number): Promise<Buffer> {
    if (max <= 0 || !(await this.fill())) return Buffer.alloc(0);
    const out = this.pending.subarray(0, max);
    this.pending = this.pending.subarray(out.length);
    return out;
  }

  /** Exactly `n` bytes; fewer only at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const c = await this.take(n - got);
      if (c.length === 0) break;
      parts.push(c);
      got += c.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, got);
  }

  /** Discards `n` bytes; returns how many there were. */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const c = await this.take(left);
      if (c.length === 0) break;
      left -= c.length;
    }
    return n - left;
  }

  /** Reads to the end, discarding (so a hash over the stream sees every byte). */
  async drain(): Promise<void> {
    while ((await this.take(1 << 20)).length > 0);
  }
}
