/**
 * The instance sidecar: the provider-side half of an instance's queue-proxy that serves the SDK
 * (src/runtime/node/sdk.ts, src/runtime/python/hivelab_sdk.py) over the instance's Unix socket.
 *
 *   POST /v1/put?retrievals=N[&transfer=T]   body = object   → 200 {"ref"}
 *   POST /v1/get                             body = ref      → 200 object (content-type, content-length)
 *   POST /v1/invoke/<fn>[?transfer=T]        body = object   → the callee's response, as the gateway gave it
 *   GET  /healthz                                            → 200 ok
 *
 * put and invoke take the object as the body, or offered on a socket of the SDK's that the sidecar
 * reads itself (headers `x-hivelab-upload` and `x-hivelab-object-length`; offered-upload.ts).
 *
 * invoke with transfer xdt is cut-through: the reference goes to the gateway at once, as the event
 * `{"$xdt": ref}`, while the object is still streaming in from the producer, and the consumer's
 * sidecar pulls it as it arrives (only a window of pool buffers is held). storage, redis and
 * xdt-saf store the whole object first and send `{"$ref": ref}` / `{"$xdt": ref}`.
 * Objects live at most as long as the sidecar: close() drops the instance's objects.
 */
import http from 'node:http';
import fs from 'node:fs';
import { dirname } from 'node:path';
import type { Socket } from 'node:net';
import { forwardGathered } from './gathered-writes.js';
import { isLocalBody, type LocalObjectBody } from '../local-retrieval.js';
import { TransferError } from '../../transfer/errors.js';
import type { TransferServices } from '../services.js';
import { parseTransfer, readAll, type OutgoingObject, type TransferKind } from '../../transfer/object-stream.js';
import { inlineTooLarge } from '../../transfer/inline.js';
import { createXdtObject, ingestXdt, openObject, putObject } from './objects.js';
import { invokeThroughGateway } from './gateway-client.js';
import { referenceEvent } from '../../transfer/reference-event.js';
import { uploadOf } from './upload.js';
import { decodePathSegment, parseRequestTarget } from '../../core/request-url.js';
import { startGrpcEgress } from './grpc-egress.js';

/** The name of the instance's gRPC egress socket, beside qp.sock (grpc-egress.ts). */
export const GRPC_EGRESS_SOCKET = 'grpc.sock';

export type { TransferServices } from '../services.js';
export { createTransferServices } from '../services.js';

export interface SidecarOptions {
  socketPath: string;
  instanceId: string;
  functionName: string;
  gatewayUrl: string;
  invokeToken: string;
  transfers: TransferServices;
  /**
   * A folder the sandbox cannot see, on the same file system as the socket's folder: uploads the SDK
   * offers on a socket of its own are moved here before the sidecar connects (offered-upload.ts).
   */
  uploadDir: string;
  /** the function's transport (manifest) for calls that name none; else the worker's defaults */
  defaultTransfer?: TransferKind;
  /** connections the instance may hold open to its sidecar at once; default 64 */
  maxConnections?: number;
}

/** Per instance: far above what the SDK uses (one per call in progress), far below the worker's fd limit. */
export const DEFAULT_SIDECAR_CONNECTIONS = 64;

export interface Sidecar {
  close(): Promise<void>;
  /**
   * Called by the worker with the body of the invocation an instance is being started for (before
   * its runtime starts): when the body is a reference event (`{"$xdt": ref}` / `{"$ref": ref}`), the sidecar
   * starts pulling the object now (thesis §6.4.1), and the shim's later `get` of that reference is
   * served from the pull already under way. Anything else is ignored (false). Never throws.
   */
  prefetch(body: Buffer, contentType?: string): boolean;
  /** XDT objects of this instance that may still be retrieved: keep the instance alive while > 0 */
  pendingObjects(): number;
}

function sendError(res: http.ServerResponse, err: unknown): void {
  const e = err instanceof TransferError ? err : new TransferError('TransferAborted', (err as Error)?.message ?? String(err));
  if (res.headersSent) {
    res.destroy(e);
    return;
  }
  const body = JSON.stringify(e.toJSON());
  res.writeHead(e.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-hivelab-error': 'transfer' });
  res.end(body);
}

function sendObject(res: http.ServerResponse, out: OutgoingObject<LocalObjectBody>): Promise<void> {
  res.writeHead(200, { 'content-type': out.contentType, 'content-length': out.size });
  const body = out.body;
  if (Buffer.isBuffer(body)) {
    res.end(body);
    return Promise.resolve();
  }
  if (isLocalBody(body)) return sendLocal(res, body);
  return forwardGathered(body, res);
}

/** Writes views of the producer's pool buffers straight to the SDK's socket; ends the retrieval once flushed. */
async function sendLocal(res: http.ServerResponse, body: LocalObjectBody): Promise<void> {
  let ok = false;
  try {
    await body.pipeTo({
      write(chunk, flushed) {
        if (res.destroyed) throw new TransferError('TransferAborted', 'the SDK went away during the get');
        return res.write(chunk, () => flushed());
      },
      drain: () =>
        new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        }),
    });
    // the buffers go back to the pool only once the socket no longer references them
    await new Promise<void>((resolve, reject) => {
      res.end(() => resolve());
      res.once('close', () => (res.writableFinished ? resolve() : reject(new TransferError('TransferAborted', 'the SDK went away during the get'))));
    });
    ok = true;
  } catch {
    res.destroy();
  } finally {
    body.finish(ok);
  }
}

const SOCKET_HIGH_WATER_MARK = 4 * 1024 * 1024;

export async function startSidecar(opts: SidecarOptions): Promise<Sidecar> {
  const ts = opts.transfers;
  const sockets = new Set<Socket>();
  // reference → pull started ahead of the consumer's get (dropped if not claimed in time)
  const prefetched = new Map<string, { out: Promise<OutgoingObject<LocalObjectBody>>; timer: NodeJS.Timeout }>();
  const PREFETCH_CLAIM_MS = 120_000;
  function takePrefetched(ref: string): Promise<OutgoingObject<LocalObjectBody>> | undefined {
    const p = prefetched.get(ref);
    if (!p) return undefined;
    prefetched.delete(ref);
    clearTimeout(p.timer);
    return p.out;
  }
  function dropPrefetched(ref: string): void {
    const out = takePrefetched(ref);
    out?.then((o) => !Buffer.isBuffer(o.body) && o.body.destroy(), () => {});
  }

  const dirs = { runDir: dirname(opts.socketPath), uploadDir: opts.uploadDir };

  async function handlePut(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const obj = uploadOf(req, dirs);
    try {
      const transfer = parseTransfer(url.searchParams.get('transfer'), opts.defaultTransfer ?? ts.defaultPutTransfer);
      const retrievals = Number(url.searchParams.get('retrievals') ?? '1');
      const ref = await putObject(ts, opts.instanceId, obj, retrievals, transfer, opts.functionName);
      const body = JSON.stringify({ ref });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } catch (err) {
      // answer only once the whole upload is in: closing under the SDK's upload would turn this
      // typed error into an EPIPE on its side
      await obj.settle();
      sendError(res, err);
    }
  }

  async function handleGet(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const limit = Math.ceil(ts.inlineLimitBytes * 1.5) + 4096;
      const ref = (await readAll(req, limit, () => new TransferError('XdtRefInvalid', 'reference too long'))).toString('utf8').trim();
      const out = await (takePrefetched(ref) ?? openObject(ts, ref));
      await sendObject(res, out);
    } catch (err) {
      sendError(res, err);
    }
  }

  async function handleInvoke(req: http.IncomingMessage, res: http.ServerResponse, url: URL, fn: string): Promise<void> {
    const obj = uploadOf(req, dirs);
    const traceparent = typeof req.headers.traceparent === 'string' ? req.headers.traceparent : undefined;
    const callerInvocationId = typeof req.headers['x-hivelab-invocation-id'] === 'string' ? req.headers['x-hivelab-invocation-id'] : undefined;
    let abandonStreamed: (() => void) | undefined;
    try {
      const transfer = parseTransfer(url.searchParams.get('transfer'), opts.defaultTransfer ?? ts.defaultInvokeTransfer);
      let body: Buffer;
      let contentType = 'application/json';
      if (transfer === 'inline') {
        if (obj.size > ts.inlineLimitBytes) {
          // Drain the upload to its end rather than reset it, so the SDK reads this error
          // instead of an EPIPE (the body is local and at most a few times the limit).
          await obj.settle();
          throw inlineTooLarge(ts.inlineLimitBytes);
        }
        body = await readAll(obj.body, ts.inlineLimitBytes, () => inlineTooLarge(ts.inlineLimitBytes));
        contentType = obj.contentType;
      } else if (transfer === 'xdt') {
        // cut-through: the invocation leaves now, the bytes follow as the consumer pulls them
        const { object, ref } = createXdtObject(ts, opts.instanceId, obj, 1, 'streamed', opts.functionName);
        const ingest = ingestXdt(ts, object, obj);
        ingest.catch(() => {});
        abandonStreamed = () => {
          if (!object.complete || object.retrievalsLeft > 0) ts.store.abandon(object, new TransferError('XdtProducerGone', 'the invocation ended before the object was pulled'));
        };
        body = Buffer.from(JSON.stringify({ $xdt: ref }));
      } else {
        const ref = await putObject(ts, opts.instanceId, obj, 1, transfer, opts.functionName);
        body = Buffer.from(JSON.stringify(transfer === 'xdt-saf' ? { $xdt: ref } : { $ref: ref }));
      }
      const upstream = await invokeThroughGateway({ gatewayUrl: opts.gatewayUrl, invokeToken: opts.invokeToken }, fn, body, {
        contentType,
        traceparent,
        callerInvocationId,
      });
      if (!obj.consumed) {
        // The callee answered before taking the whole object (refused: overloaded, unknown, crashed…).
        // Drop the object and drain the rest of the upload before answering, so the SDK reads this
        // answer instead of an EPIPE on a connection closed under its upload.
        abandonStreamed?.();
        abandonStreamed = undefined;
        await obj.settle();
      }
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(upstream.headers)) {
        if (v !== undefined && (k === 'content-type' || k === 'content-length' || k.startsWith('x-hivelab-'))) headers[k] = v;
      }
      res.writeHead(upstream.statusCode ?? 502, headers);
      await new Promise<void>((resolve) => {
        upstream.on('error', () => res.destroy());
        res.on('close', () => {
          // an SDK gone mid-answer: drop the rest rather than leave a kept-alive connection stuck on it
          if (!upstream.complete) upstream.destroy();
          resolve();
        });
        upstream.pipe(res);
      });
    } catch (err) {
      abandonStreamed?.();
      abandonStreamed = undefined;
      await obj.settle();
      sendError(res, err);
    } finally {
      abandonStreamed?.();
      if (!obj.consumed) obj.discard();
    }
  }

  // large socket buffers: objects cross this socket in MBs, and a 16 KiB high-water mark would stop
  // the flow every few pieces (a pause/resume round trip each time)
  const server = http.createServer({ highWaterMark: SOCKET_HIGH_WATER_MARK }, (req, res) => {
    // Function code talks to this server: nothing it sends may throw out of this handler, which
    // would take the worker (and every instance on it) down.
    const url = parseRequestTarget(req.url, 'http://sidecar');
    const invoked = url?.pathname.startsWith('/v1/invoke/') ? decodePathSegment(url.pathname.slice('/v1/invoke/'.length)) : undefined;
    let work: Promise<void>;
    if (!url || (url.pathname.startsWith('/v1/invoke/') && invoked === undefined)) {
      req.resume();
      sendError(res, new TransferError('InvalidArgument', `malformed request target ${JSON.stringify((req.url ?? '').slice(0, 200))}`));
      return;
    } else if (req.method === 'POST' && url.pathname === '/v1/put') work = handlePut(req, res, url);
    else if (req.method === 'POST' && url.pathname === '/v1/get') work = handleGet(req, res);
    else if (req.method === 'POST' && invoked !== undefined) {
      work = handleInvoke(req, res, url, invoked);
    } else if (req.method === 'GET' && url.pathname === '/healthz') {
      res.end('ok');
      return;
    } else {
      req.resume();
      sendError(res, new TransferError('InvalidArgument', `unknown sidecar call ${req.method} ${url.pathname}`));
      return;
    }
    work.catch((err) => sendError(res, err));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // The worker's descriptors are shared by every instance on it: one function opening sockets to its
  // sidecar without end must not exhaust them for the others (the excess is closed at once).
  server.maxConnections = opts.maxConnections ?? DEFAULT_SIDECAR_CONNECTIONS;
  // large objects: never cut a slow SDK upload short
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;

  fs.mkdirSync(opts.uploadDir, { recursive: true, mode: 0o700 });
  try {
    fs.unlinkSync(opts.socketPath);
  } catch {
    // no stale socket
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.socketPath, () => resolve());
  });
  // gRPC calls out of the instance (a function's own gRPC client calling another function).
  const egress = await startGrpcEgress({
    socketPath: `${dirname(opts.socketPath)}/${GRPC_EGRESS_SOCKET}`,
    gatewayUrl: opts.gatewayUrl,
    invokeToken: opts.invokeToken,
    callerInstanceId: opts.instanceId,
  });

  let closed: Promise<void> | undefined;
  return {
    pendingObjects: () => ts.store.pendingObjects(opts.instanceId),
    prefetch(body, contentType) {
      const ref = referenceEvent(body, contentType);
      if (ref === undefined) return false;
      if (prefetched.has(ref)) return true;
      const out = openObject(ts, ref);
      out.catch(() => {}); // the error is reported to the get that claims it
      const timer = setTimeout(() => dropPrefetched(ref), PREFETCH_CLAIM_MS);
      timer.unref();
      prefetched.set(ref, { out, timer });
      return true;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        // the producer instance is gone: so are its objects (thesis §6.3.2.2)
        ts.store.dropInstance(opts.instanceId);
        for (const ref of [...prefetched.keys()]) dropPrefetched(ref);
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }).then(async () => {
        await egress.close();
        try {
          fs.unlinkSync(opts.socketPath);
        } catch {
          // already gone
        }
      });
      return closed;
    },
  };
}
