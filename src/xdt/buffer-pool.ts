/**
 * The XDT buffer pool of a worker: a fixed number of fixed-size buffers shared by every sidecar of the
 * worker. Objects take buffers from it; when it is empty the taker waits (first come, first served),
 * which stops reading the producer's upload and so pushes back all the way to the producer (flow
 * control). The pool never grows: buffered bytes are bounded by `buffers × bufferBytes`.
 *
 * Buffers are allocated on first use and recycled afterwards (thesis §6.4.1.3 pre-allocates them; lazy
 * allocation keeps an idle worker small while still bounding the peak).
 *
 * The bound is kept in bytes: an object smaller than one buffer takes an exact-size allocation that
 * counts only its own length (`acquireBytes`). Otherwise a MapReduce shuffle — 40 mappers × 10
 * partitions of a few KB each — would pin 400 whole buffers and starve on a pool sized for a few
 * large objects.
 */
import { TransferError } from '../transfer/errors.js';

interface Waiter {
  /** whole buffers wanted, or 0 for one exact-size allocation of `bytes` */
  count: number;
  bytes: number;
  resolve: (bufs: Buffer[]) => void;
  reject: (err: Error) => void;
}

export class BufferPool {
  readonly buffers: number;
  readonly bufferBytes: number;
  private free: Buffer[] = [];
  private allocated = 0;
  private inUseBytes = 0;
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
  /** Buffers' worth of bytes handed out (exact-size allocations count by their length, rounded up). */
  get inUseBuffers(): number {
    return Math.ceil(this.inUseBytes / this.bufferBytes);
  }
  /** Highest number of bytes ever handed out at once (what the bound is about). */
  get peakBytes(): number {
    return this.peak;
  }
  resetPeak(): void {
    this.peak = this.inUseBytes;
  }

  /** One buffer of exactly `bytes` (< bufferBytes) for a small object; waits like `acquire`. */
  acquireBytes(bytes: number, signal?: AbortSignal): Promise<Buffer[]> {
    if (!Number.isInteger(bytes) || bytes <= 0 || bytes >= this.bufferBytes) return this.acquire(Math.ceil(bytes / this.bufferBytes), signal);
    return this.enqueue({ count: 0, bytes }, signal);
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
    return this.enqueue({ count, bytes: count * this.bufferBytes }, signal);
  }

  private enqueue(want: { count: number; bytes: number }, signal?: AbortSignal): Promise<Buffer[]> {
    const count = want.count;
    if (this.waiters.length === 0 && this.fits(want.bytes)) return Promise.resolve(this.take(want));
    return new Promise<Buffer[]>((resolve, reject) => {
      const waiter: Waiter = { ...want, resolve, reject };
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
                  ? new TransferError('XdtPoolTimeout', `the XDT buffer pool stayed full; ${count > 0 ? `${count} buffers` : `${want.bytes} B`} not available in time`)
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
    for (const b of bufs) {
      this.inUseBytes -= b.length;
      // exact-size allocations go back to the garbage collector, whole buffers to the free list
      if (b.length === this.bufferBytes) this.free.push(b);
    }
    this.serve();
  }

  private fits(bytes: number): boolean {
    return this.capacityBytes - this.inUseBytes >= bytes;
  }

  private take(want: { count: number; bytes: number }): Buffer[] {
    const out: Buffer[] = [];
    if (want.count === 0) out.push(Buffer.allocUnsafeSlow(want.bytes));
    for (let i = 0; i < want.count; i++) {
      let b = this.free.pop();
      if (!b) {
        b = Buffer.allocUnsafeSlow(this.bufferBytes);
        this.allocated++;
      }
      out.push(b);
    }
    this.inUseBytes += want.bytes;
    if (this.inUseBytes > this.peak) this.peak = this.inUseBytes;
    return out;
  }

  private serve(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.bytes)) {
      const w = this.waiters.shift()!;
      w.resolve(this.take(w));
    }
  }
}
