import { connect as h2connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { grpcFrame, startUnaryCall } from './unary.js';

/**
 * One unary gRPC call over an instance's Unix socket, on a session of its own that is closed before
 * the answer is handed back: the worker's own calls (the warm-up before a dump, REAP's record
 * phase) must leave no connection open, for CRIU cannot dump a socket whose peer is outside the
 * instance (src/snapshot/invoke.ts says the same of HTTP/1.1's `connection: close`).
 */

export interface UnaryReply {
  /** The grpc-status trailer (or trailers-only header); 0 is OK. */
  grpcStatus: number;
  grpcMessage: string;
  /** The response messages' bytes, length-prefixed frames as they came. */
  body: Buffer;
}

/** `method` is the HTTP/2 path, `/package.Service/Method`; `message` one serialized protobuf. */
export function grpcUnaryOverUnix(socketPath: string, method: string, message: Buffer, timeoutMs: number): Promise<UnaryReply> {
  return new Promise((resolve, reject) => {
    const session = h2connect('http://localhost', { createConnection: () => netConnect(socketPath) });
    let settled = false;
    const done = (err: Error | null, reply?: UnaryReply) => {
      if (settled) return;
      settled = true;
      session.close(() => (err ? reject(err) : resolve(reply!)));
      // a peer that never acknowledges the GOAWAY must not keep us: close() ends at the socket's end
      setTimeout(() => session.destroy(), 1000).unref();
    };
    session.on('error', (err) => done(err));
    // No call may hang: a lazily restored instance whose monitor died never answers (the timeout).
    startUnaryCall(session, { path: method, body: grpcFrame(message), timeoutMs }, (err, outcome) => {
      if (err) done(new Error(`gRPC ${method} on ${socketPath}: ${err.message}`));
      else if (outcome!.status === undefined) done(new Error(`gRPC ${method} on ${socketPath}: the call ended without a grpc-status`));
      else done(null, { grpcStatus: outcome!.status, grpcMessage: outcome!.message, body: Buffer.concat(outcome!.data) });
    });
  });
}
