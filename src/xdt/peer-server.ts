/**
 * The XDT peer server of a worker: one HTTP/2 server on 127.0.0.1 through which consumer sidecars
 * (of any worker) pull objects held by this worker's producer instances. A pull presents the sealed
 * reference itself; the server re-opens it with the platform key, so only a genuine, unexpired,
 * not-exhausted reference minted by this very worker (boot id) ever yields bytes.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { TransferError } from '../transfer/errors.js';
import { assertNotExpired, openReference } from '../transfer/reference.js';
import type { XdtObjectStore } from './object-store.js';
import type { ChunkSink } from './xdt-object.js';
import { XDT_HTTP2_OPTIONS, widenSessionWindow } from './http2-settings.js';

export const PULL_PATH = '/v1/xdt/pull';
export const REF_HEADER = 'x-hivelab-ref';

export interface XdtPeerServer {
  /** host:port, sealed into every reference this worker mints */
  readonly address: string;
  close(): Promise<void>;
}

export async function startPeerServer(opts: { sealKey: Buffer; bootId: string; store: XdtObjectStore; host?: string }): Promise<XdtPeerServer> {
  const server = http2.createServer(XDT_HTTP2_OPTIONS);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {});
    widenSessionWindow(s);
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    void servePull(stream, headers, opts).catch(() => {
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    address: `${addr.address}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function respondError(stream: http2.ServerHttp2Stream, err: TransferError): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ ':status': err.status, 'content-type': 'application/json' });
  stream.end(JSON.stringify(err.toJSON()));
}

async function servePull(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  opts: { sealKey: Buffer; bootId: string; store: XdtObjectStore },
): Promise<void> {
  if (headers[':path'] !== PULL_PATH || headers[':method'] !== 'GET') {
    respondError(stream, new TransferError('InvalidArgument', `unknown XDT peer call ${headers[':method']} ${headers[':path']}`));
    return;
  }
  let obj;
  try {
    const payload = openReference(opts.sealKey, String(headers[REF_HEADER] ?? ''));
    if (payload.t !== 'xdt') throw new TransferError('XdtRefInvalid', 'not an XDT reference');
    if (payload.w !== opts.bootId) throw new TransferError('XdtProducerGone', 'the producer worker restarted since the reference was minted');
    assertNotExpired(payload);
    obj = opts.store.claim(payload.k, payload.i);
  } catch (err) {
    respondError(stream, err instanceof TransferError ? err : new TransferError('XdtRefInvalid', (err as Error).message));
    return;
  }
  let ok = false;
  try {
    stream.respond({ ':status': 200, 'content-type': obj.contentType, 'content-length': String(obj.size) });
    const sink: ChunkSink = {
      write(chunk, flushed) {
        if (stream.destroyed || stream.closed) throw new TransferError('TransferAborted', 'consumer went away during the pull');
        return stream.write(chunk, () => flushed());
      },
      drain: () =>
        new Promise<void>((resolve) => {
          const done = () => {
            stream.off('drain', done);
            stream.off('close', done);
            resolve();
          };
          stream.on('drain', done);
          stream.on('close', done);
        }),
    };
    await obj.pipeTo(sink);
    // free the buffers only once HTTP/2 no longer references them
    await new Promise<void>((resolve, reject) => {
      stream.end(() => resolve());
      stream.once('close', () => (stream.rstCode && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR ? reject(new Error('reset')) : resolve()));
    });
    ok = true;
  } catch (err) {
    if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    void err;
  } finally {
    opts.store.release(obj, ok);
  }
}
