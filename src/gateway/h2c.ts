import {
  createServer as createH2Server,
  Http2ServerRequest,
  Http2ServerResponse,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/** The client connection preface of HTTP/2 with prior knowledge (RFC 9113 §3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/**
 * Node 20's HTTP/2 server reads straight from the socket's handle, so bytes already read (the
 * sniffed preface) must reach it through a stream: this one replays them, then relays the socket.
 * Only HTTP/2 connections pay for it; HTTP/1.1 keeps the bare socket.
 */
class ReplayingSocket extends Duplex {
  constructor(
    private readonly socket: Socket,
    first: Buffer,
  ) {
    super();
    this.push(first);
    socket.on('data', (d: Buffer) => {
      if (!this.push(d)) socket.pause();
    });
    socket.once('end', () => this.push(null));
    socket.once('error', (e) => this.destroy(e));
    socket.once('close', () => this.destroy());
    socket.setNoDelay(true);
  }
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }
  override _read(): void {
    this.socket.resume();
  }
  override _write(chunk: Buffer, enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.socket.write(chunk, enc, cb);
  }
  override _final(cb: () => void): void {
    this.socket.end(cb);
  }
  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.socket.destroy(err ?? undefined);
    cb(err);
  }
}

export type H2StreamHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void;
export type H2RequestHandler = (req: Http2ServerRequest, res: Http2ServerResponse) => void;

/**
 * Node's request/response objects for a stream, made only for non-gRPC requests: they take over
 * the stream's trailers (and so cannot carry a gRPC call's).
 */
type CompatRequestCtor = new (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, options: undefined, rawHeaders: string[]) => Http2ServerRequest;
type CompatResponseCtor = new (stream: ServerHttp2Stream) => Http2ServerResponse;

/** How long `server.close()` lets the HTTP/2 sessions' open streams finish before it destroys them. */
export const H2C_CLOSE_GRACE_MS = 2000;

/**
 * Makes an HTTP/1.1 server also accept h2c with prior knowledge on the same port: each new
 * connection's first bytes are compared with the HTTP/2 preface (a request line can never match it)
 * and the connection is handed to the HTTP/1.1 server's own connection handling or to an HTTP/2
 * server. The cost is one look at the first packet per connection; kept-alive HTTP/1.1 requests
 * pay nothing. A connection that sends nothing is closed after `sniffTimeoutMs`. Streams `isRaw`
 * picks (gRPC calls) go to `onStream` as they are; others get Node's request/response objects.
 *
 * Closing: neither server knows the connections still being sniffed, and the HTTP/1.1 server does
 * not know the HTTP/2 sessions, yet `server.close()` waits for every connection. So `close()` ends
 * them itself: sniffed connections are dropped (they have asked for nothing), each session gets a
 * GOAWAY (open streams may finish) and the sessions' sockets still open after `closeGraceMs` are
 * destroyed; a connection whose preface arrives while closing is dropped too.
 * `closeAllConnections()` destroys them all at once. A silent client, or one that keeps a stream
 * open, cannot hold the gateway's stop.
 */
export function acceptH2c(
  server: HttpServer,
  isRaw: (headers: IncomingHttpHeaders) => boolean,
  onStream: H2StreamHandler,
  onRequest: H2RequestHandler,
  sniffTimeoutMs: number,
  closeGraceMs = H2C_CLOSE_GRACE_MS,
): void {
  const h1 = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  const h2 = createH2Server({ maxSessionMemory: 64 });
  h2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
    if (isRaw(headers)) onStream(stream, headers);
    else onRequest(new (Http2ServerRequest as unknown as CompatRequestCtor)(stream, headers, undefined, rawHeaders), new (Http2ServerResponse as unknown as CompatResponseCtor)(stream));
  });
  const sessions = new Set<Http2Session>();
  /** Connections whose first bytes are still awaited: known to neither server. */
  const sniffing = new Set<Socket>();
  /**
   * The sockets under the HTTP/2 sessions. A session that closes only ends its socket (FIN) and
   * waits for the peer's: a client that does not read or answer keeps it open for ever, so a stop
   * cuts these sockets themselves.
   */
  const h2Sockets = new Set<Socket>();
  let closing = false;
  let grace: NodeJS.Timeout | undefined;
  h2.on('session', (s: Http2Session) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  h2.on('sessionError', () => undefined);

  server.on('connection', (socket: Socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    let seen: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), sniffTimeoutMs);
    timer.unref();
    sniffing.add(socket);
    const stop = () => {
      clearTimeout(timer);
      sniffing.delete(socket);
      socket.off('data', onData);
      socket.off('close', stop);
    };
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const isH2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isH2 && seen.length < PREFACE.length) return; // a prefix so far: wait for more
      stop();
      if (closing) {
        socket.destroy(); // the server is going away: no new session or request starts
        return;
      }
      socket.pause();
      if (isH2) {
        h2Sockets.add(socket);
        socket.once('close', () => h2Sockets.delete(socket));
        h2.emit('connection', new ReplayingSocket(socket, seen));
      } else {
        socket.unshift(seen);
        for (const l of h1) l.call(server, socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
    socket.once('close', stop);
    socket.on('error', () => undefined); // each server attaches its own handling once it owns the socket
  });

  const cutH2 = (): void => {
    for (const s of sessions) s.destroy();
    for (const socket of h2Sockets) socket.destroy();
  };
  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    closing = true;
    for (const socket of sniffing) socket.destroy();
    for (const s of sessions) if (!s.closed) s.close(); // GOAWAY; ends its socket once its streams are done
    if (h2Sockets.size > 0 && grace === undefined) {
      grace = setTimeout(cutH2, closeGraceMs);
      grace.unref(); // the sockets themselves keep the process up until it fires
    }
    return close(cb);
  }) as typeof server.close;
  const closeAll = server.closeAllConnections.bind(server);
  server.closeAllConnections = () => {
    for (const socket of sniffing) socket.destroy();
    cutH2();
    closeAll();
  };
}
