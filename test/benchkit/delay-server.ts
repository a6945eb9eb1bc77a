import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real local HTTP server for the kit's tests. Path decides behaviour:
 *   /delay/<ms>[?cold=1|0]  answers 200 after <ms> (x-hivelab-cold when ?cold is given)
 *   /fail                   answers 500 at once
 * Every response carries x-hivelab-instance-id: <instance>, and echoes the request body's length.
 */
export interface DelayServer {
  url: string;
  received: { path: string; query: string; bodyBytes: number; atMs: number }[];
  /** TCP connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export async function startDelayServer(instance = 'inst-1'): Promise<DelayServer> {
  const received: DelayServer['received'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const bodyBytes = Buffer.concat(chunks).length;
      received.push({ path: url.pathname, query: url.search, bodyBytes, atMs: performance.now() });
      if (url.pathname === '/fail') {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"type":"Boom"}}');
        return;
      }
      const m = /^\/delay\/(\d+)/.exec(url.pathname);
      const delay = m ? Number(m[1]) : 0;
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-hivelab-instance-id': instance };
      const cold = url.searchParams.get('cold');
      if (cold !== null) headers['x-hivelab-cold'] = cold;
      setTimeout(() => res.writeHead(200, headers).end(JSON.stringify({ bodyBytes })), delay);
    });
  });
  server.keepAliveTimeout = 30_000;
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    connections: () => connections,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
