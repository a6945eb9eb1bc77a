/**
 * gRPC calls out of an instance: `<runDir>/grpc.sock`, an HTTP/2 (h2c) server the function's own
 * gRPC client dials (`unix:/run/hivelab/grpc.sock`, which grpc-js and grpcio both take), naming the
 * callee by `:authority` in Knative's form (`<fn>.default.svc.cluster.local`, as vSwarm's chained
 * functions do) or by `x-hivelab-function`. Each stream is forwarded to the gateway's h2c port with
 * the platform's invoke token added, so the callee is routed, autoscaled, admitted and traced like
 * any gRPC call from outside; headers, messages and trailers pass through unchanged.
 *
 * Why a proxy in the sidecar and not a byte pipe: the instance must not hold the invoke token (a
 * snapshot or a core dump would carry it), and HTTP/2 headers cannot be added to a byte stream.
 */
import http2, { constants, type ClientHttp2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import fs from 'node:fs';

export interface GrpcEgress {
  close(): Promise<void>;
}

/** Headers the function may not set on a call out: the token is the sidecar's, hop-by-hop ones are HTTP/2's own. */
const DROPPED = new Set(['authorization', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);

export async function startGrpcEgress(o: { socketPath: string; gatewayUrl: string; invokeToken: string; callerInstanceId: string }): Promise<GrpcEgress> {
  let session: ClientHttp2Session | undefined;
  const upstream = (): ClientHttp2Session => {
    if (!session || session.closed || session.destroyed) {
      const s = http2.connect(o.gatewayUrl);
      s.on('error', () => undefined);
      s.once('close', () => session === s && (session = undefined));
      session = s;
    }
    return session;
  };

  const server = http2.createServer();
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined || DROPPED.has(k) || (k.startsWith(':') && k !== ':method' && k !== ':path' && k !== ':authority')) continue;
      out[k] = v;
    }
    out[':scheme'] = 'http';
    out.authorization = `Bearer ${o.invokeToken}`;
    out['x-hivelab-caller-instance-id'] = o.callerInstanceId;
    let up: http2.ClientHttp2Stream;
    try {
      up = upstream().request(out, { endStream: false, waitForTrailers: false });
    } catch (err) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': encodeURIComponent(`hivelab: gateway unreachable: ${(err as Error).message}`) }, { endStream: true });
      return;
    }
    stream.pipe(up);
    up.on('response', (h, flags) => {
      const respHeaders: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(h)) if (v !== undefined && (k === ':status' || !k.startsWith(':'))) respHeaders[k] = v as string | string[];
      // A trailers-only answer (a refusal) ends with its headers.
      const endStream = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      if (stream.destroyed) return;
      stream.respond(respHeaders, { endStream, waitForTrailers: !endStream });
      if (!endStream) up.pipe(stream);
    });
    let trailers: Record<string, string | string[]> = {};
    up.on('trailers', (t) => {
      trailers = {};
      for (const [k, v] of Object.entries(t)) if (v !== undefined && !k.startsWith(':')) trailers[k] = v as string | string[];
    });
    stream.on('wantTrailers', () => stream.sendTrailers(Object.keys(trailers).length ? trailers : { 'grpc-status': '13', 'grpc-message': 'hivelab: the call ended without trailers' }));
    up.on('error', (err) => {
      if (stream.headersSent) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      else if (!stream.destroyed) stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': encodeURIComponent(`hivelab: ${err.message}`) }, { endStream: true });
    });
    stream.on('close', () => {
      if (!up.destroyed) up.close(constants.NGHTTP2_CANCEL);
    });
    stream.on('error', () => undefined);
  });
  server.on('sessionError', () => undefined);

  try {
    fs.unlinkSync(o.socketPath);
  } catch {
    // no stale socket
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.socketPath, () => resolve());
  });
  let closed: Promise<void> | undefined;
  return {
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        session?.close();
        // Open sessions from the instance would keep close() waiting: the instance is going away.
        setTimeout(resolve, 1000).unref();
      }).then(() => {
        try {
          fs.unlinkSync(o.socketPath);
        } catch {
          // already gone
        }
      });
      return closed;
    },
  };
}
