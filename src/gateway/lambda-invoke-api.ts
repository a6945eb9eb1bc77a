import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ControlPlane } from '../control/control-plane.js';
import type { Invocation, InvocationResult } from '../core/invocation.js';
import type { PlatformMetrics, Tracing, InvocationOutcome } from '../observability/index.js';
import { Attr } from '../observability/index.js';
import { newInvocationId } from '../core/ids.js';
import { DEFAULT_BODY_DEADLINES, readBody } from './body.js';
import { decodePathSegment } from '../core/request-url.js';
import { HttpError } from '../core/errors.js';
import { parseAuthorization, SigV4Error, verifySigV4 } from './sigv4.js';
import { bearerToken, roleOf, type Tokens } from './tokens.js';

/**
 * AWS Lambda's Invoke API on the gateway (`POST /2015-03-31/functions/NAME/invocations`), so the
 * AWS SDKs and CLI invoke Hivelab functions with an endpoint override:
 *
 *   new LambdaClient({ endpoint: 'http://127.0.0.1:PORT', region: 'us-east-1',
 *                      credentials: { accessKeyId: 'hivelab', secretAccessKey: INVOKE_TOKEN } })
 *
 * Authentication: a SigV4 signature made with the invoke or admin token as the secret key (the
 * access key id is not checked), or `Authorization: Bearer TOKEN` for curl.
 *
 * Invocation types (X-Amz-Invocation-Type): RequestResponse (default) → 200 with the function's
 * result; a function error is still 200, with `X-Amz-Function-Error: Unhandled` and
 * `{errorType, errorMessage, trace}`; Event → 202 at once, the invocation runs on (errors go to
 * the platform log); DryRun → 204 after the checks. Lambda's limits: 6 MB sync, 1 MB async
 * payloads (and never above the platform's inline limit). Errors of the API itself carry
 * `x-amzn-ErrorType` so the SDK raises the named exception (ResourceNotFoundException, …).
 * Not served: X-Amz-Log-Type: Tail (no X-Amz-Log-Result; `hivelab logs NAME` has the log),
 * aliases and published versions (only $LATEST), and the response-streaming API.
 */
export interface LambdaInvokeApiOptions {
  control: ControlPlane;
  tokens: Tokens;
  tracing: Tracing;
  metrics: PlatformMetrics;
  inlineLimitBytes: number;
  log(level: 'info' | 'warn' | 'error', msg: string): void;
}

const ROUTE = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/;
export const SYNC_LIMIT_BYTES = 6 * 1024 * 1024;
export const ASYNC_LIMIT_BYTES = 1024 * 1024;

/** An error of the Invoke API itself, in Lambda's shape. */
class LambdaApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

function sendLambdaError(res: ServerResponse, e: LambdaApiError): void {
  const body = JSON.stringify({ Type: e.status < 500 ? 'User' : 'Service', message: e.message });
  res.writeHead(e.status, { 'content-type': 'application/json', 'x-amzn-errortype': e.errorType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** "name", "name:$LATEST", or an ARN "arn:aws:lambda:region:acct:function:name[:qualifier]" → name and qualifier. */
export function parseFunctionName(raw: string): { name: string; qualifier?: string } {
  const arn = /^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:([^:]+)(?::([^:]+))?$/.exec(raw);
  if (arn) return { name: arn[1]!, qualifier: arn[2] };
  const partial = /^([^:]+)(?::([^:]+))?$/.exec(raw);
  if (partial) return { name: partial[1]!, qualifier: partial[2] };
  return { name: raw };
}

/** The shim's `{error:{type,message,stack}}` → Lambda's Node error payload. */
export function lambdaErrorPayload(result: InvocationResult): Buffer {
  let type = 'Error';
  let message = 'the function failed';
  let trace: string[] = [];
  try {
    const e = (JSON.parse(result.body.toString('utf8')) as { error?: { type?: string; message?: string; stack?: string } }).error;
    if (e) {
      type = e.type || type;
      message = e.message ?? message;
      trace = (e.stack ?? '').split('\n').filter(Boolean);
    }
  } catch {
    /* not the shim's shape: the generic message stands */
  }
  return Buffer.from(JSON.stringify({ errorType: type, errorMessage: message, trace }));
}

/** A function's successful answer as Lambda's JSON payload (a string result is a JSON string there). */
export function lambdaResultPayload(result: InvocationResult): Buffer {
  const mime = (result.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (mime.startsWith('text/')) return Buffer.from(JSON.stringify(result.body.toString('utf8')));
  return result.body;
}

function outcomeOf(status: number): InvocationOutcome {
  return status < 400 ? 'ok' : status === 504 ? 'timeout' : status === 503 ? 'overloaded' : 'error';
}

export function createLambdaInvokeApi(opts: LambdaInvokeApiOptions): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> {
  const { control, tokens } = opts;

  async function authorize(req: IncomingMessage, url: URL, body: Buffer): Promise<void> {
    const header = req.headers.authorization;
    const bearer = bearerToken(header);
    if (bearer) {
      if (!roleOf(tokens, bearer)) throw new LambdaApiError(403, 'UnrecognizedClientException', 'the token is not valid for this platform');
      return;
    }
    const parts = parseAuthorization(header);
    if (!parts) throw new LambdaApiError(403, 'MissingAuthenticationTokenException', 'sign the request (SigV4, secret access key = the invoke token from <state>/tokens.json) or send "Authorization: Bearer <token>"');
    let who: number;
    try {
      who = verifySigV4({ method: req.method ?? 'POST', rawPath: url.pathname, rawQuery: url.search.slice(1), headers: req.headers, body }, parts, [tokens.invoke, tokens.admin]);
    } catch (err) {
      if (err instanceof SigV4Error) throw new LambdaApiError(403, 'InvalidSignatureException', err.message);
      throw err;
    }
    if (who < 0) throw new LambdaApiError(403, 'InvalidSignatureException', 'the request signature does not match: use the invoke token as the secret access key');
  }

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL, rawName: string): Promise<void> {
    if (req.method !== 'POST') throw new LambdaApiError(405, 'InvalidRequestContentException', 'the Invoke API takes POST');
    const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (type !== 'RequestResponse' && type !== 'Event' && type !== 'DryRun') {
      throw new LambdaApiError(400, 'InvalidParameterValueException', `X-Amz-Invocation-Type "${type}" is not RequestResponse, Event or DryRun`);
    }
    const limit = Math.min(opts.inlineLimitBytes, type === 'Event' ? ASYNC_LIMIT_BYTES : SYNC_LIMIT_BYTES);
    let body: Buffer;
    try {
      body = await readBody(req, limit, DEFAULT_BODY_DEADLINES);
    } catch (err) {
      if (err instanceof HttpError && err.status === 413) {
        res.setHeader('connection', 'close');
        res.once('finish', () => req.destroy());
        throw new LambdaApiError(413, 'RequestTooLargeException', `${err.message} (Lambda: 6 MB synchronous, 1 MB Event)`);
      }
      throw err;
    }
    await authorize(req, url, body);
    const decoded = decodePathSegment(rawName);
    if (decoded === undefined) throw new LambdaApiError(400, 'InvalidParameterValueException', `the function name in the path is not valid percent-encoding: ${JSON.stringify(rawName)}`);
    const { name, qualifier } = parseFunctionName(decoded);
    const q = url.searchParams.get('Qualifier') ?? qualifier;
    const c = control.controller(name);
    if (!c) throw new LambdaApiError(404, 'ResourceNotFoundException', `Function not found: ${name}`);
    if (q !== undefined && q !== '$LATEST') throw new LambdaApiError(404, 'ResourceNotFoundException', `Function not found: ${name}:${q} (Hivelab serves only $LATEST)`);
    if (body.length > 0) {
      try {
        JSON.parse(body.toString('utf8'));
      } catch {
        throw new LambdaApiError(400, 'InvalidRequestContentException', 'Could not parse request body into json');
      }
    }
    if (type === 'DryRun') {
      res.writeHead(204, { 'x-amz-executed-version': '$LATEST' });
      res.end();
      return;
    }
    const id = newInvocationId();
    const now = Date.now();
    const incoming = req.headers.traceparent as string | undefined;
    const trace = opts.tracing.startInvocation(name, id, incoming);
    const clientContext = req.headers['x-amz-client-context'];
    const inv: Invocation = {
      id,
      functionName: name,
      body: body.length ? body : Buffer.from('{}'),
      contentType: 'application/json',
      traceparent: incoming,
      clientContext: typeof clientContext === 'string' && clientContext.length <= 3583 ? clientContext : undefined,
      deadline: now + c.deployment.manifest.timeoutMs,
      cold: false,
      retries: 0,
      trace,
    };
    const started = performance.now();
    const run = control.invoke(name, inv).then(
      (result) => {
        const failed = result.status !== 200;
        trace.setAttributes({ [Attr.cold]: result.cold, [Attr.instanceId]: result.instanceId, [Attr.statusCode]: result.status });
        trace.end(failed ? 'error' : 'ok');
        opts.metrics.recordInvocation(name, result.instanceId, performance.now() - started, failed ? 'error' : 'ok', result.cold);
        return result;
      },
      (err: unknown) => {
        const status = err instanceof HttpError ? err.status : 500;
        trace.end('error', (err as Error).message);
        opts.metrics.recordInvocation(name, undefined, performance.now() - started, outcomeOf(status), inv.cold);
        throw err;
      },
    );
    if (type === 'Event') {
      run.then(
        (r) => {
          if (r.status !== 200) opts.log('warn', `lambda Event invocation ${id} of ${name} failed: ${lambdaErrorPayload(r).toString('utf8').slice(0, 500)}`);
        },
        (err: Error) => opts.log('warn', `lambda Event invocation ${id} of ${name} failed: ${err.message}`),
      );
      res.writeHead(202, { 'x-amzn-requestid': id, 'content-length': 0 });
      res.end();
      return;
    }
    let result: InvocationResult;
    try {
      result = await run;
    } catch (err) {
      if (err instanceof HttpError && err.status === 504) {
        // As on Lambda: a timeout is the function's error, reported in a 200.
        const payload = Buffer.from(JSON.stringify({ errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${(c.deployment.manifest.timeoutMs / 1000).toFixed(2)} seconds` }));
        res.writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled', 'x-amz-executed-version': '$LATEST', 'x-amzn-requestid': id, 'content-length': payload.length });
        res.end(payload);
        return;
      }
      if (err instanceof HttpError && err.status === 503) throw new LambdaApiError(429, 'TooManyRequestsException', err.message);
      if (err instanceof HttpError && err.status < 500) throw new LambdaApiError(err.status, err.type, err.message);
      throw new LambdaApiError(502, 'ServiceException', (err as Error).message);
    }
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      'x-amz-executed-version': '$LATEST',
      'x-amzn-requestid': id,
      'x-hivelab-instance-id': result.instanceId,
      'x-hivelab-cold': result.cold ? '1' : '0',
    };
    let payload: Buffer;
    if (result.status === 200) payload = lambdaResultPayload(result);
    else {
      headers['x-amz-function-error'] = 'Unhandled';
      payload = lambdaErrorPayload(result);
    }
    headers['content-length'] = payload.length;
    res.writeHead(200, headers);
    res.end(payload);
  }

  return async (req, res, url) => {
    const m = ROUTE.exec(url.pathname);
    if (!m) return false;
    try {
      await handle(req, res, url, m[1]!);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return true;
      }
      const e = err instanceof LambdaApiError ? err : new LambdaApiError(500, 'ServiceException', (err as Error).message);
      if (e.status >= 500) opts.log('error', `lambda invoke api: ${(err as Error).stack ?? err}`);
      sendLambdaError(res, e);
    }
    return true;
  };
}
