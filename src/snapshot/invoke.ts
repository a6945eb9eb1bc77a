import http from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROBE_REQUEST, READY } from '../runtime/port/readiness.cjs';

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

/** One attempt: does anything accept a connection on the socket now? */
function accepts(socketPath: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socketPath);
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

/**
 * Readiness of a booted `command` instance (the port bridge and its program): its socket accepts.
 * The bridge binds it only once the program accepts on $PORT (a restored clone's socket accepts
 * whatever became of its program: `probeCommandReady`), and it holds whatever the program speaks
 * (HTTP/1.1, h2c, gRPC): a `GET /healthz` would be the program's to answer, and a gRPC server cannot.
 */
export async function waitAccepting(socketPath: string, gone: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (gone()) throw new Error('the instance exited before becoming ready');
    if (await accepts(socketPath, 2000)) return;
    if (Date.now() > until) throw new Error(`the instance did not accept on its socket within ${timeoutMs} ms`);
    await sleep(3);
  }
}

/**
 * Readiness of a restored `command` instance: its bridge's answer to the readiness probe
 * (src/runtime/port/readiness.cts), sent as a connection's first bytes. Ready means the program runs
 * and its port accepted, and kept running through that connection. One attempt: a clone's socket
 * was bound before the restore, so the connection is queued at once and the bridge answers as soon
 * as it runs. Throws with the bridge's reason, when the bridge closes without an answer (it exits
 * with its program), or at the deadline (a bridge stuck in its restore).
 */
export function probeCommandReady(socketPath: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    const chunks: Buffer[] = [];
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`its bridge did not answer the readiness probe within ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('connect', () => s.write(PROBE_REQUEST));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('error', (err) => {
      clearTimeout(t);
      reject(new Error(`readiness probe: ${err.message}`));
    });
    s.once('close', () => {
      clearTimeout(t);
      const answer = Buffer.concat(chunks).toString('utf8');
      if (answer === READY) resolve();
      else if (answer === '') reject(new Error('the instance exited before its bridge answered the readiness probe (the bridge exits with the program)'));
      else reject(new Error(answer.trim().slice(0, 300)));
    });
  });
}
