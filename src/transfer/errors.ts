/**
 * Typed transfer failures. Every error the sidecar reports to the SDK is one of these types, sent as
 * `{"error":{"type","message"}}` with the status below, so user code can branch on `err.type`
 * (thesis §6.3.2.2: the consumer forwards such errors to whoever can re-invoke the producer).
 */
export type TransferErrorType =
  | 'XdtRefInvalid' // forged, tampered, truncated or not a Hivelab reference
  | 'XdtRefExpired' // past the expiry sealed into the reference
  | 'XdtRefExhausted' // already retrieved the allowed N times
  | 'XdtProducerGone' // the producer instance (or its worker) is gone, or aborted the object mid-way
  | 'XdtObjectTooLarge' // a stored object larger than the whole buffer pool could never fit
  | 'XdtPoolTimeout' // the buffer pool stayed full (unretrieved objects) for the whole allowed wait
  | 'InlineTooLarge' // over the inline limit (6 MB by default)
  | 'ObjectNotFound' // storage/redis: the object behind a valid reference is missing
  | 'TransferUnavailable' // the transport is not configured on this worker
  | 'TransferAborted' // the connection broke mid-object
  | 'InvalidArgument'
  | 'InvokeFailed'; // the gateway could not be reached

const STATUS: Record<TransferErrorType, number> = {
  XdtRefInvalid: 400,
  XdtRefExpired: 410,
  XdtRefExhausted: 410,
  XdtProducerGone: 410,
  XdtObjectTooLarge: 413,
  XdtPoolTimeout: 503,
  InlineTooLarge: 413,
  ObjectNotFound: 404,
  TransferUnavailable: 501,
  TransferAborted: 502,
  InvalidArgument: 400,
  InvokeFailed: 502,
};

export class TransferError extends Error {
  readonly type: TransferErrorType;
  readonly status: number;
  constructor(type: TransferErrorType, message: string) {
    super(message);
    this.name = type;
    this.type = type;
    this.status = STATUS[type];
  }
  toJSON(): { error: { type: string; message: string } } {
    return { error: { type: this.type, message: this.message } };
  }
}

export function isTransferErrorType(t: unknown): t is TransferErrorType {
  return typeof t === 'string' && Object.prototype.hasOwnProperty.call(STATUS, t);
}

/** Rebuilds a TransferError from a peer's JSON error body (unknown types become TransferAborted). */
export function transferErrorFromBody(body: string, fallback: string): TransferError {
  try {
    const parsed = JSON.parse(body) as { error?: { type?: unknown; message?: unknown } };
    if (isTransferErrorType(parsed.error?.type)) {
      return new TransferError(parsed.error.type, String(parsed.error.message ?? parsed.error.type));
    }
  } catch {
    // not JSON: use the fallback
  }
  return new TransferError('TransferAborted', fallback);
}
