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
  owner: string;
  resolve: (bufs: Buffer[]) => void;
  reject: (err: Error) => void;
}

/** Three quarters: a 100 MB stored object still fits the default 256 MiB pool, and 64 MiB stay for the others. */
export const DEFAULT_OWNER_SHARE = 0.75;

export class BufferPool {
  readonly buffers: number;
  readonly bufferBytes: number;
  private free: Buffer[] = [];
  private allocated = 0;
  private inUseBytes = 0;
  private peak = 0;
  private waiters: Waiter[] = [];
  /** bytes each owner (a function) holds now */
  private readonly held = new Map<string, number>();
  /**
   * The most one owner may hold: the pool is shared by every function on the worker, and one that
   * fills it with objects nobody retrieves must not make another's 1 KB put wait for its expiry.
   */
  readonly ownerShareBytes: number;

  constructor(opts: { buffers: number; bufferBytes: number; ownerShare?: number }) {
    if (!Number.isInteger(opts.buffers) || opts.buffers < 1) throw new Error('pool.buffers must be a positive integer');
    if (!Number.isInteger(opts.bufferBytes) || opts.bufferBytes < 4096) throw new Error('pool.bufferBytes must be ≥ 4096');
    const share = opts.ownerShare ?? DEFAULT_OWNER_SHARE;
    if (!(share > 0 && share <= 1)) throw new Error('pool.ownerShare must be in (0, 1]');
    this.buffers = opts.buffers;
    this.bufferBytes = opts.bufferBytes;
    // whole buffers, at least one: an owner can always make progress
    this.ownerShareBytes = Math.max(1, Math.floor(opts.buffers * share)) * opts.bufferBytes;
  }

  /** Bytes `owner` holds now. */
  heldBy(owner: string): number {
    return this.held.get(owner) ?? 0;
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
  acquireBytes(bytes: number, signal?: AbortSignal, owner = ''): Promise<Buffer[]> {
    if (!Number.isInteger(bytes) || bytes <= 0 || bytes >= this.bufferBytes) return this.acquire(Math.ceil(bytes / this.bufferBytes), signal, owner);
    return this.enqueue({ count: 0, bytes, owner }, signal);
  }

  /**
   * Takes `count` buffers at once. Taking them together (not one by one) is what makes concurrent
   * puts deadlock-free: no put ever holds part of what it needs while waiting for the rest.
   */
  acquire(count: number, signal?: AbortSignal, owner = ''): Promise<Buffer[]> {
    if (count > this.buffers) {
      return Promise.reject(
        new TransferError('XdtObjectTooLarge', `needs ${count} buffers of ${this.bufferBytes} B but the pool holds only ${this.buffers}`),
      );
    }
    if (owner !== '' && count * this.bufferBytes > this.ownerShareBytes) {
      return Promise.reject(
        new TransferError('XdtObjectTooLarge', `needs ${count} buffers of ${this.bufferBytes} B but one function may hold at most ${this.ownerShareBytes} B of the worker's XDT pool`),
      );
    }
    return this.enqueue({ count, bytes: count * this.bufferBytes, owner }, signal);
  }

  /** The most one object of a function may be: its share of the pool. */
  get objectLimitBytes(): number {
    return this.ownerShareBytes;
  }

  private enqueue(want: { count: number; bytes: number; owner: string }, signal?: AbortSignal): Promise<Buffer[]> {
    const count = want.count;
    if (this.waiters.length === 0 && this.fits(want)) return Promise.resolve(this.take(want));
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
      // waiters held back only by their owner's share do not queue the others
      this.serve();
    });
  }

  release(bufs: Buffer[], owner = ''): void {
    for (const b of bufs) {
      this.inUseBytes -= b.length;
      const left = (this.held.get(owner) ?? 0) - b.length;
      if (left > 0) this.held.set(owner, left);
      else this.held.delete(owner);
      // exact-size allocations go back to the garbage collector, whole buffers to the free list
      if (b.length === this.bufferBytes) this.free.push(b);
    }
    this.serve();
  }

  private fits(want: { bytes: number; owner: string }): boolean {
    return this.capacityBytes - this.inUseBytes >= want.bytes && this.ownerFits(want);
  }

  /** No owner (''), as in direct uses of the pool: only the pool's own bound applies. */
  private ownerFits(want: { bytes: number; owner: string }): boolean {
    return want.owner === '' || this.heldBy(want.owner) + want.bytes <= this.ownerShareBytes;
  }

  private take(want: { count: number; bytes: number; owner: string }): Buffer[] {
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
    this.held.set(want.owner, this.heldBy(want.owner) + want.bytes);
    if (this.inUseBytes > this.peak) this.peak = this.inUseBytes;
    return out;
  }

  /**
   * First come, first served among the waiters that their owner's share lets through; a waiter
   * held back by its own owner's share is passed over (that owner waits for its own releases).
   */
  private serve(): void {
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i]!;
      if (!this.ownerFits(w)) {
        i++;
        continue;
      }
      if (this.capacityBytes - this.inUseBytes < w.bytes) return;
      this.waiters.splice(i, 1);
      w.resolve(this.take(w));
    }
  }
}
