/**
 * One XDT object held in a producer worker's memory, in buffers taken from the worker's BufferPool.
 *
 * Two ways to hold it:
 * - stored (put with N retrievals, or store-and-forward): all its buffers are taken at once before the
 *   first byte is read, and kept until the N-th retrieval ends, the expiry passes or its producer
 *   instance goes away;
 * - streamed (cut-through invoke, exactly one retrieval): a small window of buffers is recycled as the
 *   single consumer's pull passes them, so an object of any size crosses in bounded memory and the
 *   producer's upload waits whenever the consumer lags (backpressure end to end).
 *
 * Readers see bytes as soon as they are copied in (cut-through): a pull may start before the put ends.
 */
import type { Readable } from 'node:stream';
import { TransferError } from '../transfer/errors.js';
import type { BufferPool } from './buffer-pool.js';
import type { ByteSource, ByteTarget } from '../transfer/object-stream.js';

/** Where a retrieval writes; `flushed` fires once the sink no longer needs the chunk's memory. */
export interface ChunkSink {
  write(chunk: Buffer, flushed: () => void): boolean;
  drain(): Promise<void>;
}

interface Chunk {
  buf: Buffer;
  len: number;
  /** views handed to sinks and not yet flushed */
  pending: number;
  fullyRead: boolean;
}

export class XdtObject {
  readonly key: string;
  readonly instanceId: string;
  /** whose share of the pool the buffers count against (the producer's function) */
  readonly owner: string;
  readonly contentType: string;
  readonly size: number;
  readonly expiresAt: number;
  readonly streaming: boolean;
  retrievalsLeft: number;
  activeReaders = 0;
  /** set once buffers are back in the pool; the object can no longer be read */
  freed = false;
  /** no new retrievals (owner gone or expired), existing ones may finish */
  closedReason: 'gone' | 'expired' | 'exhausted' | undefined;
  error: TransferError | undefined;
  written = 0;

  private readonly pool: BufferPool;
  private owned: Buffer[] = [];
  private spare: Buffer[] = [];
  private chunks: Array<Chunk | null> = [];
  private wake: Array<() => void> = [];

  constructor(opts: {
    pool: BufferPool;
    key: string;
    instanceId: string;
    owner?: string;
    contentType: string;
    size: number;
    retrievals: number;
    expiresAt: number;
    streaming: boolean;
  }) {
    this.owner = opts.owner ?? opts.instanceId;
    this.pool = opts.pool;
    this.key = opts.key;
    this.instanceId = opts.instanceId;
    this.contentType = opts.contentType;
    this.size = opts.size;
    this.retrievalsLeft = opts.retrievals;
    this.expiresAt = opts.expiresAt;
    this.streaming = opts.streaming;
  }

  get complete(): boolean {
    return this.written === this.size;
  }

  /** Buffers this object needs at once: all of it when stored, a window when streamed. */
  buffersNeeded(streamWindow: number): number {
    const all = Math.ceil(this.size / this.pool.bufferBytes);
    return this.streaming ? Math.min(all, streamWindow) : all;
  }

  /**
   * Copies the producer's bytes in; waits for pool buffers first (flow control). The upload is only
   * listened to, never destroyed, so the sidecar can still answer on its connection after a failure;
   * it is paused whenever the object waits for a buffer (backpressure to the producer). Event-driven
   * rather than `for await`: no promise and no extra stream hop per piece of a 100 MB upload.
   * A ByteSource (an upload the sidecar reads itself) writes straight into the buffers instead.
   */
  async ingest(source: Readable | ByteSource, streamWindow: number, signal?: AbortSignal): Promise<void> {
    try {
      const bufs =
        this.size > 0 && this.size < this.pool.bufferBytes
          ? await this.pool.acquireBytes(this.size, signal, this.owner)
          : await this.pool.acquire(this.buffersNeeded(streamWindow), signal, this.owner);
      if (this.freed || this.error) {
        this.pool.release(bufs, this.owner);
        throw this.error ?? new TransferError('XdtProducerGone', 'object dropped before its upload started');
      }
      this.owned = bufs;
      this.spare = bufs.slice().reverse();
      if ('readInto' in source) {
        this.byteSource = source;
        await source.readInto(this.target);
      } else {
        await this.readUpload(source);
      }
      if (this.written !== this.size) {
        throw new TransferError('XdtProducerGone', `producer upload ended after ${this.written} of ${this.size} B`);
      }
    } catch (err) {
      this.fail(err instanceof TransferError ? err : new TransferError('XdtProducerGone', `producer upload failed: ${(err as Error).message}`));
      throw this.error;
    }
  }

  private readUpload(source: Readable): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        source.off('data', onData);
        source.off('end', onEnd);
        source.off('error', finish);
        source.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onData = (piece: Buffer | string) => {
        const data = typeof piece === 'string' ? Buffer.from(piece) : piece;
        if (this.error) return finish(this.error);
        if (this.written + data.length > this.size) {
          return finish(new TransferError('InvalidArgument', `object is longer than its declared ${this.size} B`));
        }
        const off = this.copyIn(data, 0);
        this.notify();
        if (off === data.length) return;
        // out of buffers: hold the upload until the reader hands one back
        source.pause();
        copying = this.copyRest(data, off).then(() => {
          copying = undefined;
          this.notify();
          if (!settled) source.resume();
        }, finish);
      };
      // the upload may end while its last piece still waits for a buffer: finish after that piece
      let copying: Promise<void> | undefined;
      let ended = false;
      const onEnd = () => {
        ended = true;
        if (copying) void copying.then(() => finish());
        else finish();
      };
      // 'close' follows 'end' on a complete upload; before 'end' it means the producer went away
      const onClose = () => ended || finish(new TransferError('XdtProducerGone', 'the producer disconnected during its upload'));
      source.on('data', onData);
      source.once('end', onEnd);
      source.once('error', finish);
      source.once('close', onClose);
      source.resume();
    });
  }

  private cur: Chunk | undefined;
  private byteSource: ByteSource | undefined;

  /** The unfilled tail of the current buffer, bounded by what the object still lacks; a spare buffer when full. */
  private space(): Buffer | undefined {
    let cur = this.cur;
    if (!cur || cur.len === cur.buf.length) {
      const b = this.spare.pop();
      if (!b) return undefined;
      cur = this.cur = { buf: b, len: 0, pending: 0, fullyRead: false };
      this.chunks.push(cur);
    }
    return cur.buf.subarray(cur.len, cur.len + Math.min(cur.buf.length - cur.len, this.size - this.written));
  }

  private wrote(n: number): void {
    this.cur!.len += n;
    this.written += n;
  }

  private readonly target: ByteTarget = {
    space: () => this.space(),
    wrote: (n) => {
      this.wrote(n);
      this.notify();
    },
    room: async () => {
      this.spare.push(await this.nextBuffer());
    },
  };

  /** Copies what fits in the buffers at hand; returns how far into `data` it got. */
  private copyIn(data: Buffer, from: number): number {
    let off = from;
    while (off < data.length) {
      const to = this.space();
      if (!to) return off;
      const n = data.copy(to, 0, off, Math.min(data.length, off + to.length));
      this.wrote(n);
      off += n;
    }
    return off;
  }

  private async copyRest(data: Buffer, from: number): Promise<void> {
    let off = from;
    while (off < data.length) {
      this.spare.push(await this.nextBuffer());
      off = this.copyIn(data, off);
      this.notify();
    }
  }

  private async nextBuffer(): Promise<Buffer> {
    for (;;) {
      if (this.error) throw this.error;
      if (this.freed) throw new TransferError('XdtProducerGone', 'object was dropped during its upload');
      const b = this.spare.pop();
      if (b) return b;
      await this.changed();
    }
  }

  /** Streams the whole object into `sink`, waiting for bytes not yet uploaded (cut-through). */
  async pipeTo(sink: ChunkSink): Promise<void> {
    let ci = 0;
    let off = 0;
    let sent = 0;
    while (sent < this.size) {
      if (this.error) throw this.error;
      if (this.freed) throw new TransferError('XdtProducerGone', 'object was freed during the retrieval');
      const c = this.chunks[ci];
      if (c && off < c.len) {
        const view = c.buf.subarray(off, c.len);
        off = c.len;
        sent += view.length;
        c.pending++;
        const index = ci;
        const ok = sink.write(view, () => {
          c.pending--;
          this.recycle(c, index);
        });
        if (off === c.buf.length) {
          c.fullyRead = true;
          this.recycle(c, ci);
          ci++;
          off = 0;
        }
        if (!ok) await sink.drain();
        continue;
      }
      await this.changed();
    }
  }

  /** Streamed objects hand a chunk back to the writer once the single reader has flushed it. */
  private recycle(c: Chunk, index: number): void {
    if (!this.streaming || !c.fullyRead || c.pending > 0 || this.freed) return;
    if (this.chunks[index] !== c) return;
    this.chunks[index] = null;
    this.spare.push(c.buf);
    this.notify();
  }

  fail(err: TransferError): void {
    if (!this.error) this.error = err;
    this.byteSource?.stop();
    this.notify();
  }

  /** Returns the buffers to the pool; callers make sure no retrieval is still running. */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.byteSource?.stop();
    const bufs = this.owned;
    this.owned = [];
    this.spare = [];
    this.chunks = [];
    if (bufs.length > 0) this.pool.release(bufs, this.owner);
    this.notify();
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => this.wake.push(resolve));
  }

  private notify(): void {
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }
}
