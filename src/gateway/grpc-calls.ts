import { constants, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { ControlPlane } from '../control/control-plane.js';
import type { Invocation, InvocationResult } from '../core/invocation.js';
import type { Tracing, PlatformMetrics, InvocationOutcome } from '../observability/index.js';
import { Attr } from '../observability/index.js';
import { HttpError } from '../core/errors.js';
import { bearerToken, roleOf, type Tokens } from './tokens.js';
import { newInvocationId } from '../core/ids.js';
import type { GrpcCall } from '../core/grpc-call.js';
import { plainHeaders } from '../grpc/instance-client.js';
import { functionForCall, FUNCTION_HEADER } from '../grpc/route.js';
import { encodeGrpcMessage, grpcStatusFor, GrpcStatus } from '../grpc/status.js';
import { parseGrpcTimeout } from '../grpc/timeout.js';

export interface GrpcGatewayDeps {
  control: ControlPlane;
  tokens: Tokens;
  tracing: Tracing;
  metrics: PlatformMetrics;
  /** Called around each call (the gateway's busy-poll window). */
  touch(): void;
  log(level: 'info' | 'warn' | 'error', msg: string): void;
}

export function isGrpcRequest(headers: IncomingHttpHeaders): boolean {
  const ct = headers['content-type'];
  return typeof ct === 'string' && (ct === 'application/grpc' || ct.startsWith('application/grpc+') || ct.startsWith('application/grpc;'));
}

/** Request metadata that stays at the gateway: the platform's token, routing, our own headers. */
function metadataToPass(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out = plainHeaders(headers);
  delete out.authorization;
  delete out['grpc-timeout'];
  delete out['content-length'];
  delete out.traceparent;
  for (const k of Object.keys(out)) if (k.startsWith('x-hivelab-')) delete out[k];
  return out;
}

function outcomeOf(grpcStatus: number): InvocationOutcome {
  if (grpcStatus === GrpcStatus.OK) return 'ok';
  if (grpcStatus === GrpcStatus.DEADLINE_EXCEEDED) return 'timeout';
  if (grpcStatus === GrpcStatus.UNAVAILABLE || grpcStatus === GrpcStatus.RESOURCE_EXHAUSTED) return 'overloaded';
  return 'error';
}

/**
 * Serves gRPC calls arriving over h2c: authenticates (`authorization: Bearer <invoke token>`
 * metadata), picks the function from `:authority` or `x-hivelab-function`, and runs each call as
 * one invocation through the activator and the instance's queue-proxy, which passes the streams
 * through. Platform failures end the call with a gRPC status (see status.ts) and the Hivelab error
 * type in `x-hivelab-error`; a function's own status and trailers reach the client unchanged.
 */
export function createGrpcCallHandler(deps: GrpcGatewayDeps): (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void {
  return (stream, headers) => void serve(deps, { headers }, stream);
}

async function serve(deps: GrpcGatewayDeps, req: { headers: IncomingHttpHeaders }, stream: ServerHttp2Stream): Promise<void> {
  deps.touch();
  const started = performance.now();
  const id = newInvocationId();
  const path = req.headers[constants.HTTP2_HEADER_PATH] as string;
  let headersSent = false;
  let trailersOnly = false;
  let cancelled = false;
  const markCancelled = () => {
    if (!stream.writableEnded || !stream.writableFinished) cancelled = true;
  };
  stream.once('aborted', markCancelled);
  stream.once('close', markCancelled);
  stream.on('error', () => undefined); // a client reset is reported by 'aborted'/'close'

  /** Ends the call: trailers after sent headers, or a trailers-only response. */
  const endWith = (trailers: Record<string, string | string[]>) => {
    if (stream.destroyed || stream.closed) return;
    if (trailersOnly) return;
    if (!headersSent) {
      headersSent = true;
      stream.respond({ [constants.HTTP2_HEADER_STATUS]: 200, 'content-type': 'application/grpc', 'x-hivelab-invocation-id': id, ...trailers }, { endStream: true });
      return;
    }
    stream.once('wantTrailers', () => stream.sendTrailers(trailers));
    stream.end();
  };
  const fail = (e: HttpError) =>
    endWith({ 'grpc-status': String(grpcStatusFor(e)), 'grpc-message': encodeGrpcMessage(e.message), 'x-hivelab-error': e.type });

  let name = '(unknown)';
  let trace: ReturnType<Tracing['startInvocation']> | undefined;
  let inv: Invocation | undefined;
  try {
    const presented = bearerToken(req.headers.authorization);
    if (!presented) throw new HttpError(401, 'Unauthorized', 'missing "authorization: Bearer <token>" metadata (tokens are in <state>/tokens.json)');
    const role = roleOf(deps.tokens, presented);
    if (role !== 'invoke' && role !== 'admin') throw new HttpError(403, 'Forbidden', 'the token is not valid for this platform');
    const route = functionForCall(req.headers[constants.HTTP2_HEADER_AUTHORITY] as string | undefined, req.headers[FUNCTION_HEADER] as string | undefined);
    if ('error' in route) throw new HttpError(404, 'NotFound', route.error);
    name = route.name;
    const c = deps.control.controller(name);
    if (!c) throw new HttpError(404, 'NotFound', `no function named "${name}" is deployed`);
    if (c.deployment.manifest.protocol !== 'grpc') throw new HttpError(404, 'NotFound', `function "${name}" does not serve gRPC (its manifest's protocol is "${c.deployment.manifest.protocol}")`);
    let clientMs: number | undefined;
    try {
      clientMs = parseGrpcTimeout(req.headers['grpc-timeout'] as string | undefined);
    } catch (err) {
      throw new HttpError(400, 'BadRequest', (err as Error).message);
    }
    const timeoutMs = c.deployment.manifest.timeoutMs;
    const budget = clientMs !== undefined && clientMs < timeoutMs ? clientMs : timeoutMs;
    const incoming = req.headers.traceparent as string | undefined;
    trace = deps.tracing.startInvocation(name, id, incoming);
    trace.setAttributes({ 'rpc.system': 'grpc', 'rpc.method': path });
    const call: GrpcCall = {
      path,
      metadata: metadataToPass(req.headers),
      request: stream,
      response: stream,
      clientDeadline: budget !== timeoutMs,
      get cancelled() {
        return cancelled;
      },
      onHeaders(headers, endStream) {
        if (stream.destroyed || stream.closed) return;
        headersSent = true;
        trailersOnly = endStream;
        const out = { ...headers, [constants.HTTP2_HEADER_STATUS]: 200, 'x-hivelab-invocation-id': id };
        stream.respond(out, endStream ? { endStream: true } : { waitForTrailers: true });
      },
    };
    const now = Date.now();
    inv = {
      id,
      functionName: name,
      body: Buffer.alloc(0),
      contentType: req.headers['content-type'],
      traceparent: incoming,
      deadline: now + budget,
      cold: false,
      // A stream cannot be replayed, so a call is never re-dispatched after its worker died.
      retries: Number.MAX_SAFE_INTEGER,
      trace,
      grpc: call,
    };
    const result: InvocationResult = await deps.control.invoke(name, inv);
    deps.touch();
    const trailers = { ...result.trailers };
    // A stream that ended without grpc-status is an error by the protocol's rules.
    if (!trailersOnly && trailers['grpc-status'] === undefined) {
      trailers['grpc-status'] = String(GrpcStatus.UNKNOWN);
      trailers['grpc-message'] ??= 'the function ended the stream without a grpc-status';
    }
    if (result.status !== 499) endWith(trailers);
    const grpcStatus = Number(result.trailers?.['grpc-status'] ?? result.headers['grpc-status'] ?? (result.status === 499 ? GrpcStatus.CANCELLED : GrpcStatus.UNKNOWN));
    trace.setAttributes({ [Attr.cold]: result.cold, [Attr.instanceId]: result.instanceId, 'rpc.grpc.status_code': grpcStatus });
    trace.end(grpcStatus === GrpcStatus.OK ? 'ok' : 'error');
    deps.metrics.recordInvocation(name, result.instanceId, performance.now() - started, outcomeOf(grpcStatus), result.cold);
  } catch (err) {
    const e = err instanceof HttpError ? err : new HttpError(500, 'InternalError', (err as Error).message);
    if (e.status === 500) deps.log('error', `gateway (gRPC): ${(err as Error).stack ?? err}`);
    fail(e);
    const code = grpcStatusFor(e);
    const instanceId = typeof e.extra.instanceId === 'string' ? e.extra.instanceId : undefined;
    if (trace) {
      trace.setAttributes({ [Attr.cold]: inv?.cold ?? false, [Attr.instanceId]: instanceId, 'rpc.grpc.status_code': code });
      trace.end('error', e.message);
    }
    if (inv) deps.metrics.recordInvocation(name, instanceId, performance.now() - started, outcomeOf(code), inv.cold);
  }
}
