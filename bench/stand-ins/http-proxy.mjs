// Stand-in for the platform in bench/warm-path.mjs --stand-in: a bare node:http server forwarding
// each request to the instance with the queue-proxy's lean client, and nothing else (no routing,
// activator, metering or tracing).
//   node http-proxy.mjs INSTANCE_SOCKET   (prints {"port": N} once listening; needs dist/ built)
import http from 'node:http';
import { Http1Pool, requestHead } from '../../dist/net/http1-pool.js';

const [, , target] = process.argv;
const pool = new Http1Pool({ socketPath: target, connections: 64 });
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const headers = [['content-type', 'application/json'], ['x-hivelab-invocation-id', 'stand-in'], ['x-hivelab-deadline', String(Date.now() + 60_000)]];
    const out = [];
    let status = 0;
    let type = 'application/octet-stream';
    pool.request(requestHead('POST', '/invoke', 'instance', headers, body.length), body, {
      onHead(s, h) {
        status = s;
        const i = h.indexOf('content-type');
        if (i >= 0) type = h[i + 1];
      },
      onBody: (c) => out.push(c),
      onEnd() {
        const b = Buffer.concat(out);
        res.writeHead(status, { 'content-type': type, 'content-length': b.length });
        res.end(b);
      },
      onError(e) {
        res.writeHead(502);
        res.end(String(e));
      },
    });
  });
});
server.listen({ port: 0, host: '127.0.0.1' }, () => console.log(JSON.stringify({ port: server.address().port })));
