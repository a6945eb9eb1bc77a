import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { ResponseParser, type ResponseSink } from './http1-response-parser.js';

/**
 * A lean HTTP/1.1 client for the two places where a request's client-side cost is the measurement:
 * the benchmark kit's open-loop sender and the queue-proxy's hop into an instance. Compared with
 * undici it writes each request as one pre-serialised buffer (one syscall), keeps no per-request
 * promise, timer wheel or header object, and can open its connections before a run starts. It does
 * not pipeline: a connection carries one request at a time; excess requests wait in FIFO order.
 */

/** Receives one request's outcome; exactly one of onEnd / onError ends it. */
export interface Http1Handler extends ResponseSink {
  /** The request was written onto an open connection (client-side queueing is over). */
  onStart?(): void;
  onError(err: Error): void;
}

export interface Http1PoolOptions {
  /** TCP target (over TLS when `tls`), or `socketPath` for a Unix socket. */
  host?: string;
  port?: number;
  tls?: boolean;
  socketPath?: string;
  /** Most connections open at once; null opens one per outstanding request. */
  connections: number | null;
  /** false: every request gets a fresh connection, closed after its response. */
  keepAlive?: boolean;
}

/** The request did not complete within its timeout; the connection was dropped. */
export class Http1TimeoutError extends Error {
  constructor(ms: number) {
    super(`no complete response within ${ms} ms`);
    this.name = 'Http1TimeoutError';
  }
}

/** The connection failed or closed before the response was complete. */
export class Http1ConnectionError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'Http1ConnectionError';
  }
}

/**
 * The start of a request up to and including the blank line. `headers` must not contain
 * content-length or connection; the pool's keep-alive setting decides the latter.
 */
export function requestHead(method: string, path: string, host: string, headers: readonly (readonly [string, string])[], bodyLength: number, keepAlive = true): string {
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const [k, v] of headers) {
    if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) throw new Error(`header ${JSON.stringify(k)} contains a line break`);
    head += `${k}: ${v}\r\n`;
  }
  return `${head}content-length: ${bodyLength}\r\n${keepAlive ? '' : 'connection: close\r\n'}\r\n`;
}

interface Request {
  head: Buffer | string;
  body: Buffer | undefined;
  handler: Http1Handler;
  timeoutMs: number;
}

class Connection implements ResponseSink {
  readonly socket: Socket;
  readonly parser = new ResponseParser();
  connected = false;
  current: Request | undefined;
  private timer: NodeJS.Timeout | undefined;
  private dead = false;

  constructor(private readonly pool: Http1Pool) {
    const o = pool.opts;
    const host = o.host ?? '127.0.0.1';
    this.socket = o.socketPath ? connect({ path: o.socketPath }) : o.tls ? connectTls({ host, port: o.port!, servername: host }) : connect({ host, port: o.port! });
    this.socket.setNoDelay(true);
    this.parser.sink = this;
    this.socket.on(o.tls ? 'secureConnect' : 'connect', () => {
      this.connected = true;
      pool.opened();
      pool.released(this);
    });
    this.socket.on('data', (d: Buffer) => {
      if (!this.current) return this.fail(new Http1ConnectionError('the server sent data without a request'));
      try {
        this.parser.execute(d);
      } catch (e) {
        this.fail(e as Error);
      }
    });
    this.socket.on('end', () => {
      try {
        this.parser.finish();
        this.fail(new Http1ConnectionError('the server closed the connection'));
      } catch (e) {
        this.fail(e as Error);
      }
    });
    this.socket.on('error', (e: NodeJS.ErrnoException) => this.fail(new Http1ConnectionError(e.message, e.code)));
    this.socket.on('close', () => this.fail(new Http1ConnectionError('the connection closed')));
  }

  send(req: Request): void {
    this.current = req;
    if (req.timeoutMs > 0) this.timer = setTimeout(() => this.fail(new Http1TimeoutError(req.timeoutMs)), req.timeoutMs);
    if (req.body && req.body.length > 0) {
      // One writev for head and body.
      this.socket.cork();
      this.socket.write(req.head);
      this.socket.write(req.body);
      this.socket.uncork();
    } else this.socket.write(req.head);
    req.handler.onStart?.();
  }

  onHead(status: number, headers: string[]): void {
    this.current?.handler.onHead(status, headers);
  }

  onBody(chunk: Buffer): void {
    this.current?.handler.onBody(chunk);
  }

  onEnd(): void {
    const req = this.current!;
    this.current = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // Free the connection before the handler runs, so a request it sends can reuse it.
    if (this.parser.keepAlive && this.pool.keepAlive) this.pool.released(this);
    else this.fail();
    req.handler.onEnd();
  }

  /** Ends the connection; the request on it (if any) fails with `err`. */
  fail(err?: Error): void {
    if (this.dead) return;
    this.dead = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket.destroy();
    const req = this.current;
    this.current = undefined;
    this.pool.dropped(this, err);
    req?.handler.onError(err ?? new Http1ConnectionError('the connection closed'));
  }
}

export class Http1Pool {
  readonly keepAlive: boolean;
  private readonly all = new Set<Connection>();
  /** Open connections without a request, most recently used last. */
  private readonly idle: Connection[] = [];
  private readonly waiting: Request[] = [];
  private waitingHead = 0;
  /** Connections being opened. */
  private opening = 0;
  private closed = false;

  constructor(readonly opts: Http1PoolOptions) {
    this.keepAlive = opts.keepAlive ?? true;
  }

  /** Connections open or opening. */
  get size(): number {
    return this.all.size;
  }

  /**
   * Sends a request: `head` from `requestHead` (or head and body pre-joined, with `body` undefined).
   * The timeout runs from the moment the request is written; 0 means none.
   */
  request(head: Buffer | string, body: Buffer | undefined, handler: Http1Handler, timeoutMs = 0): void {
    const req: Request = { head, body, handler, timeoutMs };
    if (this.closed) {
      handler.onError(new Http1ConnectionError('the client is closed'));
      return;
    }
    const conn = this.idle.pop();
    if (conn) conn.send(req);
    else {
      this.waiting.push(req);
      this.grow();
    }
  }

  /** Opens connections up to `n` (bounded by the pool's limit) and resolves when they are connected. */
  async preconnect(n: number): Promise<void> {
    const want = Math.min(n, this.opts.connections ?? n) - this.all.size;
    const opened: Promise<void>[] = [];
    for (let i = 0; i < want; i++) {
      const c = this.open();
      opened.push(
        new Promise<void>((resolve, reject) => {
          c.socket.once(this.opts.tls ? 'secureConnect' : 'connect', () => resolve());
          c.socket.once('error', reject);
        }),
      );
    }
    await Promise.all(opened);
  }

  /** Drops every connection; requests still in flight or waiting fail. */
  close(): void {
    this.closed = true;
    for (const c of [...this.all]) c.fail(new Http1ConnectionError('the client is closed'));
    for (const r of this.waiting.splice(0).slice(this.waitingHead)) r.handler.onError(new Http1ConnectionError('the client is closed'));
    this.waitingHead = 0;
  }

  /** @internal A connection is open, or finished a response and stays open. */
  released(c: Connection): void {
    const next = this.nextWaiting();
    if (next) c.send(next);
    else this.idle.push(c);
  }

  /** @internal A connection is gone; waiting requests get a new one. */
  dropped(c: Connection, err?: Error): void {
    this.all.delete(c);
    if (!c.connected) this.opening--;
    const i = this.idle.lastIndexOf(c);
    if (i !== -1) this.idle.splice(i, 1);
    if (this.closed) return;
    // A connection that never opened (refused, no such socket) fails the oldest waiting request,
    // so an unreachable server answers every request with its error instead of a retry loop.
    if (!c.connected && err) this.nextWaiting()?.handler.onError(err);
    this.grow();
  }

  /** @internal */
  opened(): void {
    this.opening--;
  }

  /** Opens connections for waiting requests, within the limit (a connection in progress counts). */
  private grow(): void {
    const limit = this.opts.connections ?? Infinity;
    let need = this.waiting.length - this.waitingHead - this.opening;
    while (need-- > 0 && this.all.size < limit) this.open();
  }

  private open(): Connection {
    const c = new Connection(this);
    this.all.add(c);
    this.opening++;
    return c;
  }

  private nextWaiting(): Request | undefined {
    if (this.waitingHead >= this.waiting.length) return undefined;
    const r = this.waiting[this.waitingHead]!;
    this.waiting[this.waitingHead++] = undefined as unknown as Request;
    // Compact now and then instead of shift() per request.
    if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting.splice(0, this.waitingHead);
      this.waitingHead = 0;
    }
    return r;
  }
}
