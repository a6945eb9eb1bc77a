/**
 * The Hivelab SDK as user code sees it: `context.invoke`, `context.put`, `context.get`.
 *
 * It runs inside the sandbox, loaded by the runtime shim from /opt/hivelab/runtime/node/, so it is
 * dependency-free (node: builtins only) and talks only to the instance's sidecar (the provider-side
 * part of the queue-proxy) over the Unix socket named by HIVELAB_SIDECAR. Every transport (inline,
 * storage, redis, xdt) is the sidecar's business; user code only ever holds opaque reference strings.
 *
 * Sidecar protocol (HTTP/1.1 over the Unix socket; served by src/xdt/sidecar/index.ts):
 *   POST /v1/put?retrievals=N[&transfer=T]   body = object   → 200 {"ref": "<opaque>"}
 *   POST /v1/get                             body = ref      → 200 body = object
 *   POST /v1/invoke/<fn>[?transfer=T]        body = object   → the callee's response
 * From 2 MiB, put and invoke send no body but offer the object on a socket of their own
 * (`x-hivelab-upload`, `x-hivelab-object-length`; sdk-upload-offer.ts).
 * Objects travel as `application/octet-stream` (bytes) or `application/json` (any JSON value);
 * responses carry `text/plain` for strings. Errors: non-2xx with `{"error":{"type","message"}}`.
 */
import { postAndReadInto, ReadIntoError, type RawResponse } from './sdk-read-into.js';
import { OFFER_MIN_BYTES, offerUpload, type UploadOffer } from './sdk-upload-offer.js';
import { eventRef } from './event-ref.js';

export { eventRef };

/** The invocation this SDK instance acts for (forwarded so traces and logs line up). */
export interface SdkInvocation {
  invocationId: string;
  traceparent?: string;
  functionName: string;
  /** sidecar socket; defaults to env HIVELAB_SIDECAR (tests and benchmarks name one explicitly) */
  sidecar?: string;
}

export interface HivelabSdk {
  /** Calls another function synchronously, passing `obj` via the chosen transport; resolves to its response. */
  invoke(fn: string, obj: unknown, opts?: { transfer?: string }): Promise<unknown>;
  /** Stores `obj` (Buffer/Uint8Array or JSON value) and returns an opaque reference string. */
  put(obj: unknown, opts?: { retrievals?: number; transfer?: string }): Promise<string>;
  /** Retrieves the object behind a reference (Buffer for bytes, the JSON value otherwise). */
  get(ref: string): Promise<unknown>;
}

/** A typed failure reported by the sidecar (e.g. XdtRefExpired, XdtRefExhausted, InlineTooLarge). */
export class HivelabSdkError extends Error {
  readonly type: string;
  readonly status: number;
  constructor(type: string, message: string, status: number) {
    super(message);
    this.name = type;
    this.type = type;
    this.status = status;
  }
}

const JSON_TYPE = 'application/json';
const BYTES_TYPE = 'application/octet-stream';

function sidecarPath(inv?: SdkInvocation): string {
  return inv?.sidecar ?? process.env.HIVELAB_SIDECAR ?? '/run/hivelab/qp.sock';
}

/** Bytes go as they are; everything else is JSON (undefined → null, like the shim's responses). */
export function encodeObject(obj: unknown): { body: Buffer; contentType: string } {
  if (Buffer.isBuffer(obj)) return { body: obj, contentType: BYTES_TYPE };
  if (obj instanceof Uint8Array) return { body: Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength), contentType: BYTES_TYPE };
  if (obj instanceof ArrayBuffer) return { body: Buffer.from(obj), contentType: BYTES_TYPE };
  return { body: Buffer.from(JSON.stringify(obj === undefined ? null : obj)), contentType: JSON_TYPE };
}

export function decodeObject(body: Buffer, contentType: string | undefined): unknown {
  const ct = (contentType ?? '').toLowerCase();
  if (ct.startsWith(JSON_TYPE)) return body.length === 0 ? null : JSON.parse(body.toString('utf8'));
  if (ct.startsWith('text/')) return body.toString('utf8');
  return body;
}

/** One call to the sidecar; the answer lands in one buffer (sdk-read-into.ts). */
async function request(path: string, body: Buffer, contentType: string, inv: SdkInvocation, offered?: { name: string; length: number }): Promise<RawResponse> {
  const headers: Record<string, string> = {
    'content-type': contentType,
    'x-hivelab-invocation-id': inv.invocationId,
    'x-hivelab-function': inv.functionName,
  };
  if (offered) {
    headers['x-hivelab-upload'] = offered.name;
    headers['x-hivelab-object-length'] = String(offered.length);
  }
  if (inv.traceparent) headers.traceparent = inv.traceparent;
  try {
    return await postAndReadInto(sidecarPath(inv), path, headers, body);
  } catch (err) {
    if (err instanceof ReadIntoError && err.phase === 'connect') {
      throw new HivelabSdkError('SidecarUnavailable', `cannot reach the instance sidecar at ${sidecarPath(inv)} (${path.split('?')[0]}): ${err.message}`, 0);
    }
    throw new HivelabSdkError('TransferAborted', (err as Error).message, 0);
  }
}

/** put and invoke: a large object is offered on a socket of ours for the sidecar to read (sdk-upload-offer.ts). */
async function upload(path: string, body: Buffer, contentType: string, inv: SdkInvocation): Promise<RawResponse> {
  if (body.length < OFFER_MIN_BYTES) return request(path, body, contentType, inv);
  let offer: UploadOffer;
  try {
    offer = await offerUpload(sidecarPath(inv), body);
  } catch {
    return request(path, body, contentType, inv); // a run folder that takes no socket: push it
  }
  try {
    return await request(path, Buffer.alloc(0), contentType, inv, { name: offer.name, length: body.length });
  } finally {
    offer.close();
  }
}

function toError(res: RawResponse): HivelabSdkError {
  try {
    const parsed = JSON.parse(res.body.toString('utf8')) as { error?: { type?: string; message?: string } };
    if (parsed.error?.type) return new HivelabSdkError(parsed.error.type, parsed.error.message ?? parsed.error.type, res.status);
  } catch {
    // not a structured error: fall through
  }
  return new HivelabSdkError('SidecarError', `sidecar answered ${res.status}: ${res.body.toString('utf8').slice(0, 500)}`, res.status);
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function sdkFor(inv: SdkInvocation): HivelabSdk {
  return {
    async invoke(fn, obj, opts) {
      const { body, contentType } = encodeObject(obj);
      const res = await upload(`/v1/invoke/${encodeURIComponent(fn)}${query({ transfer: opts?.transfer })}`, body, contentType, inv);
      if (res.status < 200 || res.status >= 300) throw toError(res);
      return decodeObject(res.body, res.contentType);
    },
    async put(obj, opts) {
      const retrievals = opts?.retrievals ?? 1;
      if (!Number.isInteger(retrievals) || retrievals < 1) {
        throw new HivelabSdkError('InvalidArgument', `retrievals must be a positive integer, got ${retrievals}`, 0);
      }
      const { body, contentType } = encodeObject(obj);
      const path = `/v1/put${query({ retrievals, transfer: opts?.transfer })}`;
      // An upload that broke off before any answer created no object (the sidecar drops an object
      // whose producer disconnected mid-upload), so resending it cannot duplicate one. Seen as a rare
      // EPIPE under load; the cause in the sidecar is not yet found.
      let res: RawResponse | undefined;
      for (let attempt = 1; !res; attempt++) {
        try {
          res = await upload(path, body, contentType, inv);
        } catch (err) {
          if (!(err instanceof HivelabSdkError) || err.type !== 'SidecarUnavailable' || attempt >= 3) throw err;
          await new Promise((r) => setTimeout(r, 20 * attempt));
        }
      }
      if (res.status < 200 || res.status >= 300) throw toError(res);
      return (JSON.parse(res.body.toString('utf8')) as { ref: string }).ref;
    },
    async get(ref) {
      if (typeof ref !== 'string' || ref.length === 0) throw new HivelabSdkError('XdtRefInvalid', 'reference must be a non-empty string', 0);
      const res = await request('/v1/get', Buffer.from(ref, 'utf8'), 'text/plain; charset=utf-8', inv);
      if (res.status < 200 || res.status >= 300) throw toError(res);
      return decodeObject(res.body, res.contentType);
    },
  };
}

/**
 * Called by the runtime shim before the handler: an event that is a reference (`{"$xdt": ref}` or
 * `{"$ref": ref}`, what `invoke` with a non-inline transfer sends) is replaced by the object itself,
 * pulled by this instance's sidecar; any other event is returned unchanged.
 */
export async function resolveEventRefs(event: unknown, inv?: SdkInvocation): Promise<unknown> {
  const ref = eventRef(event);
  if (ref === undefined) return event;
  const sdk = sdkFor(inv ?? { invocationId: '', functionName: process.env.HIVELAB_FUNCTION ?? '' });
  return sdk.get(ref);
}
