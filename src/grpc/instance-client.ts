import { connect as h2connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { connect as netConnect } from 'node:net';
import type { GrpcCall } from '../core/grpc-call.js';
import { HttpError } from '../core/errors.js';
import { formatGrpcTimeout } from './timeout.js';

/** Why a call failed at the instance, in the queue-proxy's terms (see InstanceFailure). */
export class GrpcInstanceError extends Error {
  constructor(
    readonly kind: 'timeout' | 'connection',
    message: string,
  ) {
    super(message);
    this.name = 'GrpcInstanceError';
  }
}

export interface GrpcForwardResult {
  headers: Record<string, string | string[]>;
  trailers: Record<string, string | string[]>;
  /** The client went away first; the instance's stream was cancelled. */
  cancelled: boolean;
}

/** Headers a proxy must not pass on (hop-by-hop, HTTP/2 pseudo-headers are handled apart). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings']);

export function plainHeaders(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !k.startsWith(':') && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

/**
 * The queue-proxy's HTTP/2 client for one instance: one h2c session over the instance's Unix
 * socket, multiplexing every call (the queue-proxy's meter, not the session, limits concurrency).
 * A session that breaks is dropped and the next call dials again.
 */
export class GrpcInstanceClient {
  private session?: ClientHttp2Session;
  private closed = false;

  constructor(private readonly socketPath: string) {}

  private sessionFor(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const s = h2connect('http://instance', { createConnection: () => netConnect(this.socketPath) });
    s.on('error', () => undefined); // reported through each stream
    s.once('close', () => {
      if (this.session === s) this.session = undefined;
    });
    // An idle session must not keep the control plane's event loop alive.
    s.unref();
    this.session = s;
    return s;
  }

  /**
   * Passes one call through and resolves when the instance's stream ends. `remainingMs` bounds it;
   * `extra` carries the platform's own request headers (invocation id, traceparent).
   */
  forward(call: GrpcCall, authority: string, remainingMs: number, extra: Record<string, string>): Promise<GrpcForwardResult> {
    if (this.closed) return Promise.reject(new GrpcInstanceError('connection', 'the instance is gone'));
    const session = this.sessionFor();
    return new Promise<GrpcForwardResult>((resolve, reject) => {
      let up: ClientHttp2Stream;
      try {
        up = session.request(
          {
            ...call.metadata,
            ...extra,
            [constants.HTTP2_HEADER_METHOD]: 'POST',
            [constants.HTTP2_HEADER_PATH]: call.path,
            [constants.HTTP2_HEADER_AUTHORITY]: authority,
            // The instance sees the deadline that is really left, not the client's original one.
            'grpc-timeout': formatGrpcTimeout(remainingMs),
          },
          { endStream: false },
        );
      } catch (err) {
        reject(new GrpcInstanceError('connection', (err as Error).message));
        return;
      }
      let headers: Record<string, string | string[]> = {};
      let trailers: Record<string, string | string[]> = {};
      let settled = false;
      const finish = (err?: Error, cancelled = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        call.request.unpipe(up);
        call.request.off('close', onClientGone);
        up.unpipe(call.response);
        if (err) reject(err);
        else resolve({ headers, trailers, cancelled });
      };
      const timer = setTimeout(() => {
        up.close(constants.NGHTTP2_CANCEL);
        finish(
          call.clientDeadline
            ? new HttpError(504, 'DeadlineExceeded', `the call's grpc-timeout expired before the function answered`)
            : new GrpcInstanceError('timeout', `no response within the function's timeout`),
        );
      }, remainingMs);
      const onClientGone = () => {
        if (!call.cancelled) return;
        up.close(constants.NGHTTP2_CANCEL);
        finish(undefined, true);
      };
      call.request.once('close', onClientGone);
      up.once('response', (h, flags) => {
        headers = plainHeaders(h);
        const status = Number(h[constants.HTTP2_HEADER_STATUS]);
        if (status !== 200) {
          up.close(constants.NGHTTP2_CANCEL);
          finish(new HttpError(502, 'StreamReset', `the function answered HTTP ${status} to a gRPC call`));
          return;
        }
        call.onHeaders(headers, (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0);
      });
      let complete = false; // trailers, or a trailers-only response: the instance ended the call properly
      up.once('trailers', (t) => {
        trailers = plainHeaders(t);
        complete = true;
      });
      up.once('response', (_h, flags) => {
        if ((flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0) complete = true;
      });
      up.pipe(call.response, { end: false });
      up.once('close', () => {
        if (settled) return;
        if (complete) finish();
        // Reset by a live instance: a protocol-level failure of this call only.
        else if (!session.destroyed && !session.closed && up.rstCode !== undefined && up.rstCode !== constants.NGHTTP2_NO_ERROR) {
          if (up.rstCode === constants.NGHTTP2_REFUSED_STREAM) finish(new HttpError(503, 'Overloaded', 'the function refused the stream'));
          else finish(new HttpError(502, 'StreamReset', `the function reset the stream (HTTP/2 error ${up.rstCode})`));
        }
        // Ended without a status: the connection broke (the instance died), which the exit report explains.
        else finish(new GrpcInstanceError('connection', 'the call ended without a grpc-status: the connection to the instance broke'));
      });
      up.on('error', () => undefined); // 'close' decides
      call.request.pipe(up);
    });
  }

  close(): void {
    this.closed = true;
    this.session?.destroy();
    this.session = undefined;
  }
}
