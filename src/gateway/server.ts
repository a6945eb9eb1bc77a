import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ControlPlane } from '../control/control-plane.js';
import type { ServiceStatus } from '../services/managed-process.js';
import type { FunctionController } from '../control/function-controller.js';
import type { Invocation, InvocationResult } from '../core/invocation.js';
import { ManifestError } from '../manifest/validate.js';
import { DeployConflictError } from '../control/deployments.js';
import { platformStatus } from '../control/status.js';
import { newInvocationId } from '../core/ids.js';
import { HttpError, notFound } from '../core/errors.js';
import { BodyBudget, DEFAULT_BODY_BUDGET_BYTES, DEFAULT_BODY_DEADLINES, readBody, readJson, type BodyDeadlines } from './body.js';
import { answerAfterDrain, answerClientError } from './lingering-close.js';
import { bearerToken, roleOf, type Role, type Tokens } from './tokens.js';
import type { Tracing, PlatformMetrics, InvocationOutcome } from '../observability/index.js';
import { Attr } from '../observability/index.js';
import { BusyPoll } from './busy-poll.js';
import { decodePathSegment, parseRequestTarget } from '../core/request-url.js';
import { EVENT_HEADER, apiGatewayEvent, eventFormatFor } from './apigateway-event.js';
import { proxiedHeaders, proxyResponse } from './apigateway-response.js';
import { createLambdaInvokeApi } from './lambda-invoke-api.js';
import type { HttpEventFormat } from '../manifest/schema.js';
import { acceptH2c } from './h2c.js';
import { createGrpcCallHandler, isGrpcRequest } from './grpc-calls.js';

/** A route handler mounted by another part of the platform (dashboard, metrics, traces, status). */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;

export interface GatewayOptions {
  control: ControlPlane;
  tokens: Tokens;
  inlineLimitBytes: number;
  /** Tried in order before the built-in routes; each returns true when it handled the request. */
  extraRoutes?: RouteHandler[];
  tracing: Tracing;
  metrics: PlatformMetrics;
  /** Busy-poll window after each invocation event, in µs (0: the loop sleeps as usual). */
  busyPollUs: number;
  log(level: 'info' | 'warn' | 'error', msg: string): void;
  /** The data services' supervision state, for /v1/status. */
  serviceStatus?: () => ServiceStatus[];
  /** Idle and total deadlines for receiving a request body (body.ts). */
  bodyDeadlines?: BodyDeadlines;
  /** Bytes of bodies still arriving the gateway holds at once, over all requests (body.ts). */
  bodyBudgetBytes?: number;
}

function outcomeOf(status: number): InvocationOutcome {
  if (status < 400) return 'ok';
  if (status === 504) return 'timeout';
  if (status === 503) return 'overloaded';
  return 'error';
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function requireRole(req: IncomingMessage, tokens: Tokens, allowed: Role[]): Role {
  const presented = bearerToken(req.headers.authorization);
  if (!presented) throw new HttpError(401, 'Unauthorized', 'missing "Authorization: Bearer <token>" header (tokens are in <state>/tokens.json)');
  const role = roleOf(tokens, presented);
  if (!role || !allowed.includes(role)) {
    throw new HttpError(403, 'Forbidden', role ? `the ${role} token may not do this` : 'the token is not valid for this platform');
  }
  return role;
}

function badPath(path: string): HttpError {
  return new HttpError(400, 'BadRequest', `malformed request path ${JSON.stringify(path.slice(0, 200))} (bad percent-encoding)`);
}

/** The HTTP front end: invocations, the admin API, and whatever routes other parts mount. */
export function createGateway(opts: GatewayOptions): Server {
  const { control, tokens } = opts;
  const poll = new BusyPoll(opts.busyPollUs / 1000);
  const deadlines = opts.bodyDeadlines ?? DEFAULT_BODY_DEADLINES;
  const budget = new BodyBudget(opts.bodyBudgetBytes ?? DEFAULT_BODY_BUDGET_BYTES);

  const describe = async (c: FunctionController, withMemory: boolean) => {
    const memory = new Map<string, number>();
    if (withMemory) {
      for (const w of await control.workerStats()) for (const i of w.instances) memory.set(i.instanceId, i.memoryBytes);
    }
    const d = c.deployment;
    return {
      name: d.name,
      version: d.version,
      runtime: d.manifest.runtime,
      sourceDir: d.sourceDir,
      deployedAt: d.deployedAt,
      manifest: d.manifest,
      coldStart: control.coldStartOf(d),
      buffered: c.bufferedCount,
      instances: c.instances.map((i) => ({
        id: i.id,
        state: i.state,
        version: i.version,
        worker: i.worker.id,
        pid: i.pid,
        mode: i.mode,
        inFlight: i.inFlight,
        served: i.served,
        createdAt: new Date(i.createdAt).toISOString(),
        startMs: i.timings?.startMs,
        ...(withMemory ? { memoryBytes: memory.get(i.id) ?? 0 } : {}),
      })),
    };
  };

  const lambdaApi = createLambdaInvokeApi({ control, tokens, tracing: opts.tracing, metrics: opts.metrics, log: opts.log, inlineLimitBytes: opts.inlineLimitBytes });

  async function invoke(req: IncomingMessage, res: ServerResponse, name: string, subPath = '/', rawQuery = ''): Promise<void> {
    // Poll through the instance's answer (and again after ours, for the client's next request).
    poll.touch();
    const started = performance.now();
    const id = newInvocationId();
    res.setHeader('x-hivelab-invocation-id', id);
    requireRole(req, tokens, ['invoke', 'admin']);
    const c = control.controller(name);
    if (!c) throw notFound(`no function named "${name}" is deployed`);
    let format: HttpEventFormat;
    try {
      format = eventFormatFor(c.deployment.manifest.event, req.headers[EVENT_HEADER]);
    } catch (err) {
      throw new HttpError(400, 'BadRequest', (err as Error).message);
    }
    if (format === 'raw') {
      if (req.method !== 'POST') throw new HttpError(405, 'MethodNotAllowed', 'invoke a function with POST (or give it "event": "apigateway-v1"/"apigateway-v2" for any method)');
      if (subPath !== '/') throw notFound(`no function named "${name}${subPath}" is deployed`);
    }
    const incoming = req.headers.traceparent as string | undefined;
    const trace = opts.tracing.startInvocation(name, id, incoming);
    const now = Date.now();
    const inv: Invocation = {
      id,
      functionName: name,
      body: Buffer.alloc(0),
      contentType: req.headers['content-type'],
      traceparent: incoming,
      deadline: now + c.deployment.manifest.timeoutMs,
      cold: false,
      retries: 0,
      trace,
    };
    let result: InvocationResult;
    try {
      inv.body = await readBody(req, opts.inlineLimitBytes, deadlines, budget);
      if (format !== 'raw') {
        const parts = { method: req.method ?? 'GET', path: subPath, rawQuery, headers: req.headers, body: inv.body, requestId: id, sourceIp: req.socket.remoteAddress ?? '', now };
        inv.body = apiGatewayEvent(format, parts, name);
        inv.contentType = 'application/json';
      }
      result = await control.invoke(name, inv);
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, 'InternalError', (err as Error).message);
      res.setHeader('x-hivelab-cold', inv.cold ? '1' : '0');
      const instanceId = typeof e.extra.instanceId === 'string' ? e.extra.instanceId : undefined;
      if (instanceId) res.setHeader('x-hivelab-instance-id', instanceId);
      trace.setAttributes({ [Attr.cold]: inv.cold, [Attr.instanceId]: instanceId, [Attr.statusCode]: e.status });
      trace.end('error', e.message);
      opts.metrics.recordInvocation(name, instanceId, performance.now() - started, outcomeOf(e.status), inv.cold);
      throw e;
    }
    if (format !== 'raw') {
      result = proxyResponse(format, result, name, opts.log);
    }
    const handlerFailed = result.status === 500 && result.headers['x-hivelab-error'] === 'handler';
    const status = handlerFailed ? 502 : result.status;
    const headers: Record<string, string | number> = {
      'x-hivelab-instance-id': result.instanceId,
      'x-hivelab-cold': result.cold ? '1' : '0',
      'content-length': result.body.length,
    };
    if (result.headers['content-type']) headers['content-type'] = result.headers['content-type'];
    if (handlerFailed) headers['x-hivelab-error'] = 'handler';
    else if (result.headers['x-hivelab-error'] === 'proxy-response') headers['x-hivelab-error'] = 'proxy-response';
    // Errors the instance's runtime caught outside any answer (src/runtime/node/shim.cts), so far.
    const uncaught = result.headers['x-hivelab-uncaught-errors'];
    if (uncaught) headers['x-hivelab-uncaught-errors'] = uncaught;
    for (const [k, v] of proxiedHeaders(result)) res.appendHeader(k, v);
    res.writeHead(status, headers);
    res.end(result.body);
    poll.touch();
    trace.setAttributes({ [Attr.cold]: result.cold, [Attr.instanceId]: result.instanceId, [Attr.statusCode]: status });
    trace.end(status < 400 ? 'ok' : 'error');
    opts.metrics.recordInvocation(name, result.instanceId, performance.now() - started, outcomeOf(status), result.cold);
  }

  async function admin(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const path = url.pathname;
    if (path === '/v1/status' && req.method === 'GET') {
      requireRole(req, tokens, ['admin']);
      sendJson(res, 200, await platformStatus(control, opts.serviceStatus?.()));
      return true;
    }
    if (path === '/v1/functions') {
      requireRole(req, tokens, ['admin']);
      if (req.method === 'GET') {
        sendJson(res, 200, { functions: await Promise.all(control.listControllers().map((c) => describe(c, false))) });
      } else if (req.method === 'POST') {
        const body = (await readJson(req, undefined, deadlines)) as { path?: unknown; manifest?: unknown; replace?: unknown } | null;
        if (typeof body !== 'object' || body === null || typeof body.path !== 'string' || !body.path) {
          throw new HttpError(400, 'BadRequest', 'expected {"path": "/absolute/path/to/function/folder", "manifest"?: {…fields over its function.json}}');
        }
        if (body.manifest !== undefined && (body.manifest === null || typeof body.manifest !== 'object' || Array.isArray(body.manifest))) {
          throw new HttpError(400, 'BadRequest', '"manifest" must be an object of function.json fields');
        }
        try {
          const { deployment, changed } = await control.deploy(body.path, { settings: body.manifest as Record<string, unknown> | undefined, replace: body.replace === true });
          sendJson(res, changed ? 201 : 200, { name: deployment.name, version: deployment.version, changed });
        } catch (err) {
          if (err instanceof ManifestError) throw new HttpError(400, 'InvalidManifest', err.message, { field: err.field });
          if (err instanceof DeployConflictError) {
            throw new HttpError(409, 'FunctionExists', err.message, { deployedFrom: err.deployedFrom });
          }
          throw err;
        }
      } else throw new HttpError(405, 'MethodNotAllowed', `${req.method} is not supported on ${path}`);
      return true;
    }
    const m = /^\/v1\/functions\/([^/]+)$/.exec(path);
    if (m) {
      requireRole(req, tokens, ['admin']);
      const name = decodePathSegment(m[1]!);
      if (name === undefined) throw badPath(path);
      const c = control.controller(name);
      if (!c) throw notFound(`no function named "${name}" is deployed`);
      if (req.method === 'GET') sendJson(res, 200, await describe(c, true));
      else if (req.method === 'DELETE') {
        // ?graceMs=N: how long requests in flight may still run (default min(timeoutMs, 30 s))
        const g = url.searchParams.get('graceMs');
        const graceMs = g === null ? undefined : Number(g);
        if (graceMs !== undefined && !(Number.isInteger(graceMs) && graceMs >= 0 && graceMs <= 300_000)) {
          throw new HttpError(400, 'BadRequest', 'graceMs must be an integer number of milliseconds from 0 to 300000');
        }
        await control.remove(name, graceMs);
        sendJson(res, 200, { removed: name });
      } else throw new HttpError(405, 'MethodNotAllowed', `${req.method} is not supported on ${path}`);
      return true;
    }
    return false;
  }

  const server = createServer(async (req, res) => {
    try {
      const url = parseRequestTarget(req.url, 'http://gateway');
      if (!url) throw badPath(req.url ?? '');
      const path = url.pathname;
      if (path.startsWith('/invoke/')) {
        // /invoke/NAME[/sub/path]: the sub-path (and any method) only for API Gateway events.
        const rest = path.slice('/invoke/'.length);
        const slash = rest.indexOf('/');
        const name = decodePathSegment(slash < 0 ? rest : rest.slice(0, slash));
        if (name === undefined) throw badPath(path);
        await invoke(req, res, name, slash < 0 ? '/' : rest.slice(slash), url.search.slice(1));
        return;
      }
      if (await lambdaApi(req, res, url)) return;
      if (path === '/v1/health') {
        sendJson(res, 200, { ok: true });
        return;
      }
      for (const h of opts.extraRoutes ?? []) if (await h(req, res, url)) return;
      if (await admin(req, res, url)) return;
      throw notFound(`no route for ${req.method} ${path}`);
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, 'InternalError', (err as Error).message);
      if (e.status === 500) opts.log('error', `gateway: ${(err as Error).stack ?? err}`);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // Refused before the body was read (too large, over the budget, or not wanted: 401, 404…):
      // drop the rest of the body before answering, so the client still sending it reads this
      // answer rather than a reset. A body too slow to wait for (408) is answered at once.
      if (!req.complete && e.status !== 408) answerAfterDrain(req, res, () => sendJson(res, e.status, e.toJSON()));
      else {
        if (!req.complete && req.httpVersionMajor < 2) res.setHeader('connection', 'close');
        sendJson(res, e.status, e.toJSON());
      }
    }
  });
  // Malformed or oversized request heads (431 above --max-http-header-size): answered, not reset.
  server.on('clientError', answerClientError);
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;
  // h2c on the same port: gRPC calls (src/grpc), other HTTP/2 requests through the routes above.
  const grpc = createGrpcCallHandler({ ...opts, touch: () => poll.touch() });
  acceptH2c(server, isGrpcRequest, grpc, (req, res) => server.emit('request', req, res), server.headersTimeout);
  return server;
}
