import { H2Sessions, loadUnaryMethod, startUnaryCall } from '../grpc/unary.js';
import type { Http1Handler } from '../net/http1-pool.js';

/**
 * The kit's gRPC side: a sub-experiment with `grpc` sends one unary call per request instead of
 * an HTTP POST. The message is encoded once from the experiment's proto and JSON request; URLs use
 * the `grpc://host:port/<package.Service>/<Method>` form, so the open-loop client can tell them apart.
 * The framing and the call itself are the suite's too (src/grpc/unary.ts).
 */

/** A length-prefixed gRPC message (uncompressed) of the method's request type. */
export function grpcRequestBody(protoFile: string, method: string, request: Record<string, unknown>): Buffer {
  return loadUnaryMethod(protoFile, method).encode(request);
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
  private readonly sessions = new H2Sessions();

  /**
   * Sends a call and reports it as an HTTP-like response: 200 when grpc-status is 0, else 500 with
   * "grpc-status N: message" as the body (so latencies.csv explains the failure).
   */
  request(url: string, headers: Record<string, string>, body: Buffer, handler: Http1Handler, timeoutMs: number): void {
    const u = new URL(url);
    startUnaryCall(
      this.sessions.get(u.host),
      { path: u.pathname, headers: { ':authority': u.host, ...headers }, body, timeoutMs, onSent: () => handler.onStart?.() },
      (err, outcome) => {
        if (err || !outcome) return handler.onError(err ?? new Error('no outcome'));
        const ok = outcome.status === 0;
        handler.onHead(ok ? 200 : 500, outcome.rawHeaders);
        if (!ok) handler.onBody(Buffer.from(`grpc-status ${outcome.status ?? '(none)'}: ${outcome.message}`));
        else for (const c of outcome.data) handler.onBody(c);
        handler.onEnd();
      },
    );
  }

  close(): void {
    this.sessions.close();
  }
}
