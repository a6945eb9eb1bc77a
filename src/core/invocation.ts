import type { InvocationTrace } from './trace.js';
import type { GrpcCall } from './grpc-call.js';

/** One invocation as it travels from the gateway through the activator to a queue-proxy. */
export interface Invocation {
  id: string;
  functionName: string;
  body: Buffer;
  contentType: string | undefined;
  traceparent: string | undefined;
  /** Lambda Invoke API's X-Amz-Client-Context (base64 JSON), handed to the runtime as is. */
  clientContext?: string;
  /** Epoch ms after which the invocation fails with 504. */
  deadline: number;
  /** Set when the invocation had to wait for a new instance to start. */
  cold: boolean;
  /** Times it was re-dispatched after its instance's worker died. */
  retries: number;
  /** The invocation's trace (a shared no-op when not sampled). */
  trace: InvocationTrace;
  /** Set for a gRPC call: its streams are passed through to the instance instead of `body`. */
  grpc?: GrpcCall;
}

/** What the function instance answered. */
export interface InvocationResult {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  instanceId: string;
  cold: boolean;
  /** gRPC: the instance's trailers (grpc-status, grpc-message, trailing metadata). */
  trailers?: Record<string, string | string[]>;
}
