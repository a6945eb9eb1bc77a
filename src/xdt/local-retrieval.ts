/**
 * A retrieval whose producer lives in this very worker: the consumer's sidecar reads the object
 * straight out of the pool buffers instead of pulling it over HTTP/2 from its own peer server. With
 * one worker per machine (the platform's default) this is every XDT transfer, and it saves the
 * loopback TCP hop: HTTP/2 framing, a kernel round trip and a copy into fresh buffers per DATA frame
 * (with the garbage they leave). The semantics are the peer server's: the sealed reference was opened
 * and checked by the caller, the retrieval is claimed against N up front, and the buffers are freed
 * only once the sink has flushed every view of them.
 */
import { TransferError } from '../transfer/errors.js';
import type { XdtObjectStore } from './object-store.js';
import type { ChunkSink, XdtObject } from './xdt-object.js';

export class LocalObjectBody {
  readonly kind = 'local';
  private finished = false;
  constructor(
    private readonly store: XdtObjectStore,
    private readonly object: XdtObject,
  ) {}

  /** Claims a retrieval of object `key` of producer instance `instanceId` (throws the typed refusal). */
  static claim(store: XdtObjectStore, key: string, instanceId: string): LocalObjectBody {
    return new LocalObjectBody(store, store.claim(key, instanceId));
  }

  get contentType(): string {
    return this.object.contentType;
  }
  get size(): number {
    return this.object.size;
  }

  /** Hands the object's bytes to `sink` as views of the pool buffers (cut-through, no copy). */
  pipeTo(sink: ChunkSink): Promise<void> {
    if (this.finished) return Promise.reject(new TransferError('TransferAborted', 'retrieval already ended'));
    return this.object.pipeTo(sink);
  }

  /** Ends the retrieval; call once the sink no longer references any view. */
  finish(ok: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.store.release(this.object, ok);
  }

  /** An unclaimed prefetch or a broken delivery: the retrieval failed. */
  destroy(): void {
    this.finish(false);
  }
}

export function isLocalBody(body: unknown): body is LocalObjectBody {
  return body instanceof LocalObjectBody;
}
