import { connect, constants, type ClientHttp2Session } from 'node:http2';
import * as loader from '@grpc/proto-loader';
import type { Http1Handler } from '../net/http1-pool.js';

/**
 * The kit's gRPC side: a sub-experiment with `grpc` sends one unary call per request instead of
 * an HTTP POST. The message is encoded once from the experiment's proto and JSON request; URLs use
 * the `grpc://host:port/<package.Service>/<Method>` form, so the open-loop client can tell them apart.
 */

/** A length-prefixed gRPC message (uncompressed) of the method's request type. */
export function grpcRequestBody(protoFile: string, method: string, request: Record<string, unknown>): Buffer {
  const [service, name] = method.split('/') as [string, string];
  const def = loader.loadSync(protoFile, { keepCase: true })[service] as Record<string, { requestSerialize(v: unknown): Buffer }> | undefined;
  const m = def?.[name];
  if (!m?.requestSerialize) throw new Error(`${protoFile} has no method ${method}`);
  const msg = m.requestSerialize(request);
  const frame = Buffer.alloc(5 + msg.length);
  frame.writeUInt32BE(msg.length, 1);
  msg.copy(frame, 5);
  return frame;
}

/**
 * The gRPC target for a provider's endpoint: a Hivelab `/invoke/<name>` URL names the function with
 * the x-hivelab-function header; any other URL (a Knative service) is addressed by its host name.
 */
export function grpcTarget(endpoint: string, method: string): { url: string; headers: Record<string, string> } {
  const u = new URL(endpoint);
  const m = /^\/invoke\/([^/]+)$/.exec(u.pathname);
  return { url: `grpc://${u.host}/${method}`, headers: m ? { 'x-hivelab-function': decodeURIComponent(m[1]!) } : {} };
}

/** One HTTP/2 session per origin, each call a stream; reports through the client's request handler. */
export class GrpcSender {
  private readonly sessions = new Map<string, ClientHttp2Session>();

  private session(origin: string): ClientHttp2Session {
    let s = this.sessions.get(origin);
    if (!s || s.closed || s.destroyed) {
      s = connect(`http://${origin}`);
      s.on('error', () => undefined);
      s.once('close', () => this.sessions.get(origin) === s && this.sessions.delete(origin));
      this.sessions.set(origin, s);
    }
    return s;
  }

  /**
   * Sends a call and reports it as an HTTP-like response: 200 when grpc-status is 0, else 500 with
   * "grpc-status N: message" as the body (so latencies.csv explains the failure).
   */
  request(url: string, headers: Record<string, string>, body: Buffer, handler: Http1Handler, timeoutMs: number): void {
    const u = new URL(url);
    const stream = this.session(u.host).request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: u.pathname,
      [constants.HTTP2_HEADER_AUTHORITY]: u.host,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    handler.onStart?.();
    let head: string[] = [];
    let grpcStatus: string | undefined;
    let grpcMessage = '';
    const chunks: Buffer[] = [];
    let done = false;
    const timer = setTimeout(() => {
      stream.close(constants.NGHTTP2_CANCEL);
      finish(new Error(`no response within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) return handler.onError(err);
      const ok = grpcStatus === '0';
      handler.onHead(ok ? 200 : 500, head);
      if (!ok) handler.onBody(Buffer.from(`grpc-status ${grpcStatus ?? '(none)'}: ${decodeURIComponent(grpcMessage)}`));
      else for (const c of chunks) handler.onBody(c);
      handler.onEnd();
    };
    const note = (h: Record<string, unknown>) => {
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') && v !== undefined) head.push(k, String(v));
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) grpcMessage = String(h['grpc-message']);
    };
    stream.once('response', (h) => {
      head = [];
      note(h);
    });
    stream.once('trailers', (t) => note(t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('close', () => (grpcStatus === undefined && stream.rstCode ? finish(new Error(`stream reset (HTTP/2 error ${stream.rstCode})`)) : finish()));
    stream.on('error', () => undefined);
    stream.end(body);
  }

  close(): void {
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }
}
