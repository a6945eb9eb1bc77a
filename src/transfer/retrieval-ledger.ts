/**
 * Retrieval counts for the transports whose store cannot count them itself: an inline reference
 * carries its object, and S3 has no atomic counter. Every retrieval of such a reference is claimed
 * here first; the N+1-th claim is XdtRefExhausted, as for XDT and Redis. One ledger serves the whole
 * platform (it lives in the control plane; workers reach it over their IPC channel), so a reference
 * cannot be retrieved once more on each worker.
 */
import { TransferError } from './errors.js';

export interface RetrievalLedger {
  /** Counts one retrieval of reference `id` (allowed `n` times, valid until `expiresAt`); throws when exhausted. */
  claim(id: string, n: number, expiresAt: number): Promise<void>;
}

export function exhausted(): TransferError {
  return new TransferError('XdtRefExhausted', 'object was already retrieved the allowed number of times');
}

/** The ledger itself: retrievals left per reference id, forgotten once the reference has expired. */
export class MemoryLedger implements RetrievalLedger {
  private readonly left = new Map<string, { n: number; until: number }>();
  private sweepAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Synchronous: the whole decision happens in one turn of the event loop, so concurrent claims cannot both win. */
  take(id: string, n: number, expiresAt: number): boolean {
    const now = this.now();
    this.sweep(now);
    if (now >= expiresAt) return false;
    const entry = this.left.get(id) ?? { n, until: expiresAt };
    if (entry.n <= 0) return false;
    entry.n--;
    this.left.set(id, entry);
    return true;
  }

  claim(id: string, n: number, expiresAt: number): Promise<void> {
    return this.take(id, n, expiresAt) ? Promise.resolve() : Promise.reject(exhausted());
  }

  get size(): number {
    return this.left.size;
  }

  /** Expired entries go at most once a second: the map stays bounded by the references alive. */
  private sweep(now: number): void {
    if (now < this.sweepAt) return;
    this.sweepAt = now + 1000;
    for (const [id, e] of this.left) if (e.until <= now) this.left.delete(id);
  }
}
