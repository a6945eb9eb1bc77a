/**
 * The XDT buffer pool of a worker: a fixed number of fixed-size buffers shared by every sidecar of the
 * worker. Objects take buffers from it; when it is empty the taker waits (first come, first served),
 * which stops reading the producer's upload and so pushes back all the way to the producer (flow
 * control). The pool never grows: buffered bytes are bounded by `buffers × bufferBytes`.
 *
 * Buffers are allocated on first use and recycled afterwards (thesis §6.4.1.3 pre-allocates them; lazy
 * allocation keeps an idle worker small while still bounding the peak).
 */
import { TransferError } from '../transfer/errors.js';

interface Waiter {
  count: number;
  resolve: (bufs: Buffer[]) => void;
  reject: (err: Error) => void;
}

export class BufferPool {
  readonly buffers: number;
  readonly bufferBytes: number;
  private free: Buffer[] = [];
  private allocated = 0;
  private inUse = 0;
  private peak = 0;
  private waiters: Waiter[] = [];

  constructor(opts: { buffers: number; bufferBytes: number }) {
    if (!Number.isInteger(opts.buffers) || opts.buffers < 1) throw new Error('pool.buffers must be a positive integer');
    if (!Number.isInteger(opts.bufferBytes) || opts.bufferBytes < 4096) throw new Error('pool.bufferBytes must be ≥ 4096');
    this.buffers = opts.buffers;
    this.bufferBytes = opts.bufferBytes;
  }

  get capacityBytes(): number {
    return this.buffers * this.bufferBytes;
  }
  get inUseBuffers(): number {
    return this.inUse;
  }
  /** Highest number of bytes ever handed out at once (what the bound is about). */
  get peakBytes(): number {
    return this.peak * this.bufferBytes;
  }
  resetPeak(): void {
    this.peak = this.inUse;
  }

  /**
   * Takes `count` buffers at once. Taking them together (not one by one) is what makes concurrent
   * puts deadlock-free: no put ever holds part of what it needs while waiting for the rest.
   */
  acquire(count: number, signal?: AbortSignal): Promise<Buffer[]> {
    if (count > this.buffers) {
      return Promise.reject(
        new TransferError('XdtObjectTooLarge', `needs ${count} buffers of ${this.bufferBytes} B but the pool holds only ${this.buffers}`),
      );
    }
    if (this.waiters.length === 0 && this.buffers - this.inUse >= count) return Promise.resolve(this.take(count));
    return new Promise<Buffer[]>((resolve, reject) => {
      const waiter: Waiter = { count, resolve, reject };
      this.waiters.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) {
            this.waiters.splice(i, 1);
            reject(
              signal.reason instanceof TransferError
                ? signal.reason
                : (signal.reason as { name?: string })?.name === 'TimeoutError'
                  ? new TransferError('XdtPoolTimeout', `the XDT buffer pool stayed full; ${count} buffers not available in time`)
                  : new TransferError('TransferAborted', 'aborted while waiting for buffers'),
            );
            this.serve();
          }
        },
        { once: true },
      );
    });
  }

  release(bufs: Buffer[]): void {
    for (const b of bufs) this.free.push(b);
    this.inUse -= bufs.length;
    this.serve();
  }

  private take(count: number): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      let b = this.free.pop();
      if (!b) {
        b = Buffer.allocUnsafeSlow(this.bufferBytes);
        this.allocated++;
      }
      out.push(b);
    }
    this.inUse += count;
    if (this.inUse > this.peak) this.peak = this.inUse;
    return out;
  }

  private serve(): void {
    while (this.waiters.length > 0 && this.buffers - this.inUse >= this.waiters[0]!.count) {
      const w = this.waiters.shift()!;
      w.resolve(this.take(w.count));
    }
  }
}
