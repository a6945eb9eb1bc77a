import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The worker's own requests to an instance's runtime socket: readiness probes, the warm-up and
 * record-phase invocations, and `POST /_hivelab/restored`. Always `connection: close`: a snapshot
 * must not hold an open connection (CRIU cannot dump a socket whose peer is outside), and a clone
 * must not inherit one.
 */

export interface UnixReply {
  status: number;
  body: Buffer;
}

export function unixRequest(socketPath: string, method: string, path: string, body?: Buffer | string, timeoutMs = 60_000, contentType = 'application/json'): Promise<UnixReply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    const req = http.request(
      {
        socketPath,
        method,
        path,
        agent: false,
        headers: { connection: 'close', ...(payload ? { 'content-type': contentType, 'content-length': payload.length } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    // No request may hang: a lazily restored runtime whose monitor died never answers.
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path} on ${socketPath}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Polls `GET /healthz` until the runtime answers (a runtime started without a readiness pipe). */
export async function waitHealthy(socketPath: string, gone: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (gone()) throw new Error('the runtime exited before becoming ready');
    try {
      const r = await unixRequest(socketPath, 'GET', '/healthz', undefined, 2000);
      if (r.status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > until) throw new Error(`the runtime did not become ready within ${timeoutMs} ms`);
    await sleep(3);
  }
}
