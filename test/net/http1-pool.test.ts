import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Http1ConnectionError, Http1Pool, Http1TimeoutError, requestHead, type Http1PoolOptions } from '../../src/net/http1-pool.js';
import { scratchDir } from '../helpers/scratch.js';

interface Reply {
  status: number;
  headers: string[];
  body: string;
  started: boolean;
}

/** One request through the pool as a promise. */
function call(pool: Http1Pool, path: string, body = '', timeoutMs = 0, headers: [string, string][] = []): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const r: Reply = { status: 0, headers: [], body: '', started: false };
    const b = Buffer.from(body);
    pool.request(requestHead('POST', path, 'test', headers, b.length, pool.keepAlive), b, {
      onStart: () => (r.started = true),
      onHead: (s, h) => ((r.status = s), (r.headers = h)),
      onBody: (c) => (r.body += c.toString()),
      onEnd: () => resolve(r),
      onError: reject,
    }, timeoutMs);
  });
}

let server: Server;
let port: number;
let connections = 0;
let active = 0;
let maxActive = 0;
const order: string[] = [];

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const url = new URL(req.url!, 'http://x');
  active++;
  maxActive = Math.max(maxActive, active);
  order.push(url.searchParams.get('id') ?? '');
  const delay = Number(url.searchParams.get('delay') ?? 0);
  await new Promise((r) => setTimeout(r, delay));
  active--;
  if (url.pathname === '/never') return; // no response at all
  if (url.pathname === '/cut') {
    res.writeHead(200, { 'content-length': 100 });
    res.write('partial');
    setTimeout(() => res.socket?.destroy(), 20);
    return;
  }
  if (url.pathname === '/chunked') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('a'.repeat(70_000));
    res.end('end');
    return;
  }
  res.writeHead(200, { 'x-echo-length': String(Buffer.concat(chunks).length), 'x-seen': String(req.headers['x-test'] ?? '') });
  res.end(Buffer.concat(chunks));
}

beforeAll(async () => {
  server = createServer((req, res) => void handle(req, res));
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const tcp = (o: Partial<Http1PoolOptions> = {}): Http1Pool => new Http1Pool({ host: '127.0.0.1', port, connections: 2, ...o });

describe('Http1Pool against a real HTTP server', () => {
  it('round-trips bodies and headers, reusing kept-alive connections', async () => {
    const pool = tcp();
    const before = connections;
    const payload = 'x'.repeat(200_000);
    for (let i = 0; i < 5; i++) {
      const r = await call(pool, `/echo?id=${i}`, payload, 0, [['x-test', 'yes']]);
      expect(r.status).toBe(200);
      expect(r.body).toBe(payload);
      expect(r.started).toBe(true);
      expect(r.headers[r.headers.indexOf('x-seen') + 1]).toBe('yes');
    }
    expect(connections - before).toBe(1);
    const big = await call(pool, '/chunked');
    expect(big.body).toBe('a'.repeat(70_000) + 'end');
    pool.close();
  });

  it('never opens more than its connection limit; waiting requests go in arrival order', async () => {
    const pool = tcp({ connections: 2 });
    maxActive = 0;
    order.length = 0;
    const replies = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => call(pool, `/echo?id=${i}&delay=50`, String(i))));
    expect(replies.map((r) => r.body)).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(maxActive).toBeLessThanOrEqual(2);
    expect(pool.size).toBeLessThanOrEqual(2);
    expect(order.slice(2)).toEqual(['2', '3', '4', '5']);
    pool.close();
  });

  it('opens connections ahead of time with preconnect', async () => {
    const pool = tcp({ connections: 3 });
    const before = connections;
    await pool.preconnect(5);
    await new Promise((r) => setTimeout(r, 20));
    expect(connections - before).toBe(3);
    await Promise.all([1, 2, 3].map((i) => call(pool, `/echo?id=p${i}`, 'x')));
    expect(connections - before).toBe(3);
    pool.close();
  });

  it('without keep-alive every request gets its own connection', async () => {
    const pool = tcp({ keepAlive: false });
    const before = connections;
    for (let i = 0; i < 3; i++) expect((await call(pool, '/echo', 'k')).body).toBe('k');
    expect(connections - before).toBe(3);
    pool.close();
  });

  it('times out a request that gets no answer, and the next request works on a new connection', async () => {
    const pool = tcp({ connections: 1 });
    await expect(call(pool, '/never', '', 200)).rejects.toBeInstanceOf(Http1TimeoutError);
    expect((await call(pool, '/echo', 'after')).body).toBe('after');
    pool.close();
  });

  it('a response cut off by the server is a connection error, not a hang', async () => {
    const pool = tcp();
    await expect(call(pool, '/cut')).rejects.toThrow(/middle of a response|closed/);
    expect((await call(pool, '/echo', 'ok')).body).toBe('ok');
    pool.close();
  });

  it('survives the server closing idle kept-alive connections', async () => {
    const s = createServer((req, res) => void handle(req, res));
    s.keepAliveTimeout = 50;
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const pool = new Http1Pool({ host: '127.0.0.1', port: (s.address() as AddressInfo).port, connections: 1 });
    expect((await call(pool, '/echo', 'one')).body).toBe('one');
    // Node's server closes idle sockets on a ~1 s check, whatever keepAliveTimeout says.
    for (let i = 0; i < 100 && pool.size > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(pool.size).toBe(0);
    expect((await call(pool, '/echo', 'two')).body).toBe('two');
    pool.close();
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  });

  it('a refused connection fails each request once, without retrying forever', async () => {
    const pool = new Http1Pool({ host: '127.0.0.1', port: 1, connections: 1 });
    const results = await Promise.allSettled([call(pool, '/a'), call(pool, '/b'), call(pool, '/c')]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(Http1ConnectionError);
      expect((r as PromiseRejectedResult).reason.code).toBe('ECONNREFUSED');
    }
    expect(pool.size).toBe(0);
  });

  it('works over a Unix socket, and close() fails what is in flight', async () => {
    const dir = await scratchDir('h1-');
    const path = join(dir, 's.sock');
    const s = createServer((req, res) => void handle(req, res));
    await new Promise<void>((r) => s.listen(path, r));
    const pool = new Http1Pool({ socketPath: path, connections: 1 });
    expect((await call(pool, '/echo', 'uds')).body).toBe('uds');
    const pending = call(pool, '/never');
    const queued = call(pool, '/echo', 'queued');
    await new Promise((r) => setTimeout(r, 50));
    pool.close();
    await expect(pending).rejects.toThrow(/closed/);
    await expect(queued).rejects.toThrow(/closed/);
    await expect(call(pool, '/echo')).rejects.toThrow(/closed/);
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  });

  it('refuses header values that would inject lines', () => {
    expect(() => requestHead('POST', '/', 'h', [['x-a', 'b\r\nx-evil: 1']], 0)).toThrow(/line break/);
  });
});
