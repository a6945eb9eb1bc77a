/**
 * The XDT objects a worker holds for its producer instances, with the semantics of thesis §6.3.2.2:
 * an object is freed after its N-th retrieval, at its expiry, or when its producer instance goes away
 * (retrievals already running may finish); afterwards a tombstone says *why* it is gone, so `get`
 * fails with the precise typed error instead of a generic miss.
 */
import { randomBytes } from 'node:crypto';
import { TransferError } from '../transfer/errors.js';
import type { BufferPool } from './buffer-pool.js';
import { XdtObject } from './xdt-object.js';

type GoneReason = 'exhausted' | 'expired' | 'gone';

const REASON_ERROR: Record<GoneReason, () => TransferError> = {
  exhausted: () => new TransferError('XdtRefExhausted', 'object was already retrieved the allowed number of times'),
  expired: () => new TransferError('XdtRefExpired', 'object expired'),
  gone: () => new TransferError('XdtProducerGone', 'the producer instance of this object is gone'),
};

export class XdtObjectStore {
  private readonly pool: BufferPool;
  private readonly objects = new Map<string, XdtObject>();
  private readonly tombstones = new Map<string, { reason: GoneReason; until: number }>();
  private readonly goneInstances = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(pool: BufferPool) {
    this.pool = pool;
  }

  create(opts: { instanceId: string; owner?: string; contentType: string; size: number; retrievals: number; ttlMs: number; streaming: boolean }): XdtObject {
    if (this.goneInstances.has(opts.instanceId)) throw REASON_ERROR.gone();
    const key = randomBytes(16).toString('base64url');
    const expiresAt = Date.now() + opts.ttlMs;
    const obj = new XdtObject({ pool: this.pool, key, ...opts, expiresAt });
    this.objects.set(key, obj);
    const t = setTimeout(() => this.expire(key), opts.ttlMs);
    t.unref();
    this.timers.set(key, t);
    return obj;
  }

  /** Starts a retrieval: counts it against N up front, so N+1 concurrent pulls cannot all succeed. */
  claim(key: string, instanceId: string): XdtObject {
    const obj = this.objects.get(key);
    if (!obj) {
      const tomb = this.tombstones.get(key);
      if (tomb) throw REASON_ERROR[tomb.reason]();
      if (this.goneInstances.has(instanceId)) throw REASON_ERROR.gone();
      throw new TransferError('XdtProducerGone', 'no such object at the producer (its worker may have restarted)');
    }
    if (obj.closedReason) throw REASON_ERROR[obj.closedReason]();
    if (obj.error) throw obj.error;
    if (Date.now() >= obj.expiresAt) {
      this.expire(key);
      throw REASON_ERROR.expired();
    }
    if (obj.retrievalsLeft <= 0) throw REASON_ERROR.exhausted();
    obj.retrievalsLeft--;
    obj.activeReaders++;
    if (obj.retrievalsLeft === 0) obj.closedReason = 'exhausted';
    return obj;
  }

  /** Ends a retrieval; a failed pull of a streamed object consumed bytes that cannot be re-read. */
  release(obj: XdtObject, ok: boolean): void {
    obj.activeReaders--;
    if (!ok && obj.streaming) {
      obj.fail(new TransferError('TransferAborted', 'the consumer pull of this streamed object broke off'));
      obj.closedReason ??= 'exhausted';
    }
    this.maybeFree(obj);
  }

  /** Upload failed: nobody can ever read the whole object. */
  abandon(obj: XdtObject, err: TransferError): void {
    obj.fail(err);
    obj.closedReason ??= 'gone';
    this.maybeFree(obj);
  }

  /** The producer instance is gone: its objects go too (running retrievals may finish). */
  dropInstance(instanceId: string): void {
    this.goneInstances.add(instanceId);
    for (const obj of [...this.objects.values()]) {
      if (obj.instanceId !== instanceId) continue;
      obj.closedReason = 'gone';
      if (!obj.complete) obj.fail(REASON_ERROR.gone());
      this.maybeFree(obj);
    }
  }

  /** Objects of an instance that may still be retrieved (the worker keeps such a producer alive). */
  pendingObjects(instanceId: string): number {
    let n = 0;
    for (const obj of this.objects.values()) if (obj.instanceId === instanceId && !obj.closedReason) n++;
    return n;
  }

  get size(): number {
    return this.objects.size;
  }

  /** Frees everything (worker shutdown). */
  clear(): void {
    for (const obj of this.objects.values()) {
      obj.fail(REASON_ERROR.gone());
      obj.free();
    }
    this.objects.clear();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private expire(key: string): void {
    const obj = this.objects.get(key);
    if (!obj) return;
    obj.closedReason ??= 'expired';
    if (!obj.complete) obj.fail(REASON_ERROR.expired());
    this.maybeFree(obj);
  }

  private maybeFree(obj: XdtObject): void {
    if (!obj.closedReason || obj.activeReaders > 0) return;
    if (this.objects.get(obj.key) !== obj) return;
    if (!obj.error && !obj.complete) obj.fail(REASON_ERROR[obj.closedReason]());
    obj.free();
    this.objects.delete(obj.key);
    const t = this.timers.get(obj.key);
    if (t) clearTimeout(t);
    this.timers.delete(obj.key);
    this.tombstones.set(obj.key, { reason: obj.closedReason, until: obj.expiresAt + 60_000 });
    if (this.tombstones.size > 4096) {
      const now = Date.now();
      for (const [k, v] of this.tombstones) if (v.until < now) this.tombstones.delete(k);
    }
  }
}
