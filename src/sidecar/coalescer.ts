/**
 * HTTP/2 delivers a pulled object in DATA-frame-sized pieces (~16 KiB); writing each one to the
 * SDK's Unix socket costs a syscall and an event-loop turn on both ends, which dominated the pull.
 * Coalescing them into ~1 MiB writes costs one memcpy and makes the sidecar → SDK hop run at
 * socket speed. Backpressure is kept: it is an ordinary Transform.
 */
import { Transform, type TransformCallback } from 'node:stream';

export const COALESCE_BYTES = 1024 * 1024;

export class Coalescer extends Transform {
  private parts: Buffer[] = [];
  private size = 0;
  constructor(private readonly target: number) {
    super({ highWaterMark: target });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.size === 0 && chunk.length >= this.target) {
      cb(null, chunk);
      return;
    }
    this.parts.push(chunk);
    this.size += chunk.length;
    if (this.size >= this.target) this.flushParts();
    cb();
  }
  override _flush(cb: TransformCallback): void {
    this.flushParts();
    cb();
  }
  private flushParts(): void {
    if (this.size === 0) return;
    this.push(this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size));
    this.parts = [];
    this.size = 0;
  }
}
