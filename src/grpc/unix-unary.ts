import { connect as h2connect, constants } from 'node:http2';
import { connect as netConnect } from 'node:net';

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
      clearTimeout(timer);
      session.close(() => (err ? reject(err) : resolve(reply!)));
      // a peer that never acknowledges the GOAWAY must not keep us: close() ends at the socket's end
      setTimeout(() => session.destroy(), 1000).unref();
    };
    // No call may hang: a lazily restored instance whose monitor died never answers.
    const timer = setTimeout(() => done(new Error(`gRPC ${method} on ${socketPath}: no answer within ${timeoutMs} ms`)), timeoutMs);
    session.on('error', (err) => done(err));
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1); // byte 0: not compressed
    message.copy(frame, 5);
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: method,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    let statusMessage = '';
    const take = (h: Record<string, unknown>) => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) statusMessage = decodeURIComponent(String(h['grpc-message']));
    };
    stream.on('response', take);
    stream.on('trailers', take);
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', (err) => done(err));
    stream.on('close', () => {
      if (status === undefined) done(new Error(`gRPC ${method} on ${socketPath}: the call ended without a grpc-status`));
      else done(null, { grpcStatus: Number(status), grpcMessage: statusMessage, body: Buffer.concat(chunks) });
    });
    stream.end(frame);
  });
}
