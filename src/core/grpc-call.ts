import type { Readable, Writable } from 'node:stream';

/**
 * One gRPC call on its way from the gateway to an instance. The gateway owns the client's stream;
 * the queue-proxy passes bytes through and reports what the instance sent, so both request and
 * response messages flow as they come (client, server and bidirectional streaming work, and an open
 * stream holds its instance slot — it is in flight until it closes).
 */
export interface GrpcCall {
  /** `/<package>.<Service>/<Method>`. */
  path: string;
  /** The request metadata to pass on (already stripped of the platform's token and hop-by-hop headers). */
  metadata: Record<string, string | string[]>;
  /** The request messages as the client sends them (length-prefixed frames). */
  request: Readable;
  /** Where the response messages go (the client's stream, not ended by the queue-proxy). */
  response: Writable;
  /** The instance's response headers; `endStream` for a trailers-only response (then they carry grpc-status). */
  onHeaders(headers: Record<string, string | string[]>, endStream: boolean): void;
  /** True when the client's `grpc-timeout` set the deadline (a miss is then the client's choice, not an instance fault). */
  clientDeadline: boolean;
  /** True once the client has gone (cancelled or disconnected). */
  readonly cancelled: boolean;
}
