/**
 * put and get per transport, as the sidecar performs them for its instance. `putObject` returns the
 * sealed reference; `openObject` turns any reference back into the object's bytes (pulling XDT
 * objects from the producer worker over HTTP/2, cut-through unless the reference says otherwise).
 */
import { TransferError } from '../../transfer/errors.js';
import type { TransferServices } from '../services.js';
import { readAll, type IncomingObject, type OutgoingObject, type TransferKind } from '../../transfer/object-stream.js';
import { getInline, putInline } from '../../transfer/inline.js';
import { assertNotExpired, openReference, sealReference } from '../../transfer/reference.js';
import type { XdtObject } from '../xdt-object.js';
import { LocalObjectBody } from '../local-retrieval.js';

function unavailable(kind: string): TransferError {
  return new TransferError('TransferUnavailable', `transfer "${kind}" is not configured on this worker`);
}

/** Registers an XDT object for `instanceId` and mints its reference (bytes may still be on their way). */
export function createXdtObject(
  ts: TransferServices,
  instanceId: string,
  obj: { size: number; contentType: string },
  retrievals: number,
  mode: 'stored' | 'streamed' | 'saf',
  /** whose share of the worker's pool the object counts against; default the instance */
  owner?: string,
): { object: XdtObject; ref: string } {
  if (!Number.isInteger(obj.size) || obj.size < 0) throw new TransferError('InvalidArgument', 'XDT needs the object length (content-length) up front');
  const streaming = mode === 'streamed';
  if (!streaming && obj.size > ts.pool.objectLimitBytes) {
    throw new TransferError(
      'XdtObjectTooLarge',
      `object of ${obj.size} B exceeds what one function may hold in the worker's XDT buffer pool (${ts.pool.objectLimitBytes} of ${ts.pool.capacityBytes} B)`,
    );
  }
  const object = ts.store.create({ instanceId, owner, contentType: obj.contentType, size: obj.size, retrievals, ttlMs: ts.ttlMs, streaming });
  const ref = sealReference(ts.sealKey, {
    t: 'xdt',
    a: ts.peer.address,
    w: ts.bootId,
    i: instanceId,
    k: object.key,
    n: retrievals,
    e: object.expiresAt,
    ...(mode === 'saf' ? { m: 'saf' as const } : {}),
  });
  return { object, ref };
}

/** Copies the upload into the object; on failure the object is abandoned (its readers get the error). */
export async function ingestXdt(ts: TransferServices, object: XdtObject, obj: IncomingObject): Promise<void> {
  try {
    // waiting for pool buffers is flow control, but bounded: a pool held by objects nobody retrieves
    // must end in a typed error, not a put that hangs until their expiry
    await object.ingest(obj.offered ?? obj.source ?? obj.body, ts.streamWindow, AbortSignal.timeout(ts.poolWaitTimeoutMs));
  } catch (err) {
    const e = err instanceof TransferError ? err : new TransferError('XdtProducerGone', (err as Error).message);
    ts.store.abandon(object, e);
    throw e;
  }
}

export async function putObject(
  ts: TransferServices,
  instanceId: string,
  obj: IncomingObject,
  retrievals: number,
  transfer: TransferKind,
  owner?: string,
): Promise<string> {
  if (!Number.isInteger(retrievals) || retrievals < 1) throw new TransferError('InvalidArgument', `retrievals must be a positive integer, got ${retrievals}`);
  switch (transfer) {
    case 'inline':
      return putInline(ts.sealKey, obj, ts.inlineLimitBytes, ts.ttlMs, retrievals);
    case 'storage':
      if (!ts.storage) throw unavailable(transfer);
      return ts.storage.put(ts.sealKey, obj, retrievals, ts.ttlMs);
    case 'redis':
      if (!ts.redis) throw unavailable(transfer);
      return ts.redis.put(ts.sealKey, obj, retrievals, ts.ttlMs);
    case 'xdt':
    case 'xdt-saf': {
      const { object, ref } = createXdtObject(ts, instanceId, obj, retrievals, transfer === 'xdt' ? 'stored' : 'saf', owner);
      await ingestXdt(ts, object, obj);
      return ref;
    }
  }
}

export async function openObject(ts: TransferServices, ref: string): Promise<OutgoingObject<LocalObjectBody>> {
  const payload = openReference(ts.sealKey, ref);
  assertNotExpired(payload);
  switch (payload.t) {
    case 'inline':
      // neither an inline reference nor S3 can count its retrievals: the platform's ledger does
      if (payload.i === undefined || payload.n === undefined) throw new TransferError('XdtRefInvalid', 'inline reference without a retrieval count');
      await ts.ledger.claim(`inline:${payload.i}`, payload.n, payload.e);
      return getInline(payload);
    case 'storage':
      if (!ts.storage) throw unavailable('storage');
      await ts.ledger.claim(`storage:${payload.b}/${payload.k}`, payload.n, payload.e);
      return ts.storage.get(payload);
    case 'redis':
      if (!ts.redis) throw unavailable('redis');
      return ts.redis.get(payload);
    case 'xdt': {
      if (payload.m !== 'saf' && payload.a === ts.peer.address && payload.w === ts.bootId) {
        // the producer is in this worker: read its pool buffers directly (local-retrieval.ts)
        const body = LocalObjectBody.claim(ts.store, payload.k, payload.i);
        return { contentType: body.contentType, size: body.size, body };
      }
      const pulled = await ts.peerClient.pull(payload.a, ref);
      if (payload.m !== 'saf') return pulled;
      // store-and-forward: the whole object is in the consumer's sidecar before the consumer sees a byte
      const body = await readAll(pulled.body, pulled.size, () => new TransferError('TransferAborted', 'producer sent more than announced'));
      return { contentType: pulled.contentType, size: body.length, body };
    }
    default:
      throw new TransferError('XdtRefInvalid', 'unknown reference kind');
  }
}
