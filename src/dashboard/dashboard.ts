import type { IncomingMessage, ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { PlatformMetrics } from '../observability/platform-metrics.js';
import { PROMETHEUS_CONTENT_TYPE } from '../observability/metrics.js';
import type { LiveStats } from '../observability/rolling-window.js';
import type { TraceStore } from '../observability/trace-store.js';
import type { TraceSummary } from '../observability/span-record.js';
import type { FunctionView, PlatformEvent, PlatformView, ScalePoint, SnapshotStats } from './platform-view.js';
import { clearTokenCookie, presentedToken, setTokenCookie, type CheckToken, type Role } from './auth.js';
import { EventStream } from './event-stream.js';
import { listReports, resolveReportFile } from './reports.js';
import { DEFAULT_STATIC_DIR, staticPath } from './static-files.js';
import { contentType } from './content-types.js';
import { loginPage } from './login-page.js';

export interface DashboardOptions {
  view: PlatformView;
  metrics: PlatformMetrics;
  /** The built-in trace store (`tracing.store`). */
  traces: TraceStore;
  /** `<state>/reports`. */
  reportsDir: string;
  checkToken: CheckToken;
  /** Roles that may use the dashboard and its feeds; default admin only (traces and metrics reveal every function). */
  allowedRoles?: Role[];
  staticDir?: string;
  /** How often open pages get fresh numbers; default 1000 ms. */
  refreshMs?: number;
}

export interface FunctionPanel extends FunctionView {
  live: LiveStats;
  invocations: number;
  scale: ScalePoint[];
  snapshot?: SnapshotStats;
}

/** Everything the page draws, pushed whole: small enough, and the page never has to merge deltas. */
export interface DashboardState {
  time: number;
  /** Whether snapshot cold starts work here, and why not. */
  snapshots: { available: boolean; reason?: string };
  functions: FunctionPanel[];
  traces: TraceSummary[];
  events: PlatformEvent[];
}

export interface Dashboard {
  /** Serves the request if the route is the dashboard's; false lets the gateway route it. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  state(): DashboardState;
  /** Push fresh state to open pages now (e.g. after an invocation), instead of at the next tick. */
  notify(): void;
  close(): void;
}

const PAGE_CSP = "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const RECENT_EVENTS = 50;
const SCALE_POINTS = 300;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  sendJson(res, status, { error: { type, message } });
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': PAGE_CSP, 'x-content-type-options': 'nosniff' });
  res.end(html);
}

function readSmallBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        // Stop reading but keep the socket: the caller answers 413, then closes the connection.
        req.removeAllListeners('data');
        req.pause();
        reject(new Error('body too large'));
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * The dashboard's routes, framework-free so they plug into the gateway's node:http server:
 * `/` (page or login form), `/login`, `/logout`, `/dashboard/<asset>`, `/metrics`, `/v1/events`
 * (server-sent events), `/v1/dashboard/state`, `/v1/traces`, `/v1/traces/<id>`, `/v1/reports`,
 * `/v1/reports/<name>/<file>`.
 */
export function createDashboard(opts: DashboardOptions): Dashboard {
  const allowed = new Set<Role>(opts.allowedRoles ?? ['admin']);
  const staticDir = opts.staticDir ?? DEFAULT_STATIC_DIR;
  const stream = new EventStream();
  const events: PlatformEvent[] = [];
  let pushTimer: NodeJS.Timeout | undefined;

  function state(): DashboardState {
    const now = Date.now();
    return {
      time: now,
      snapshots: opts.view.snapshotSupport?.() ?? { available: true },
      functions: opts.view.functions().map((f) => {
        const snapshot = opts.view.snapshotStats(f.name);
        return {
          ...f,
          live: opts.metrics.live(f.name, now),
          invocations: opts.metrics.invocationCount(f.name),
          scale: opts.view.scaleHistory(f.name).slice(-SCALE_POINTS),
          ...(snapshot ? { snapshot } : {}),
        };
      }),
      traces: opts.traces.list({ last: 25 }),
      events: events.slice(),
    };
  }

  function push(): void {
    if (pushTimer) {
      clearTimeout(pushTimer);
      pushTimer = undefined;
    }
    if (stream.size === 0) return;
    try {
      stream.send('state', state());
    } catch (err) {
      // A failing view must not take the gateway down; the page keeps its last state.
      stream.send('problem', { message: (err as Error).message });
    }
  }

  /** Coalesces bursts (a scale-up starts many instances at once) into one push. */
  function notify(): void {
    if (!pushTimer) {
      pushTimer = setTimeout(push, 100);
      pushTimer.unref();
    }
  }

  const unsubscribe = opts.view.onEvent((e) => {
    events.push(e);
    if (events.length > RECENT_EVENTS) events.splice(0, events.length - RECENT_EVENTS);
    stream.send('platform', e);
    notify();
  });
  const ticker = setInterval(push, opts.refreshMs ?? 1000);
  ticker.unref();

  function role(req: IncomingMessage): Role | null {
    const token = presentedToken(req);
    return token ? opts.checkToken(token) : null;
  }

  /** For API routes: true if allowed, otherwise answers 401/403 and returns false. */
  function authorize(req: IncomingMessage, res: ServerResponse): boolean {
    const r = role(req);
    if (r && allowed.has(r)) return true;
    if (r) sendError(res, 403, 'forbidden', 'this token may not use the dashboard (admin token required)');
    else sendError(res, 401, 'unauthorized', 'missing or invalid token (Authorization: Bearer <token>, or sign in at /)');
    return false;
  }

  function methodIs(req: IncomingMessage, res: ServerResponse, ...methods: string[]): boolean {
    if (methods.includes(req.method ?? 'GET')) return true;
    res.setHeader('allow', methods.join(', '));
    sendError(res, 405, 'method_not_allowed', `use ${methods.join(' or ')}`);
    return false;
  }

  async function page(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const given = url.searchParams.get('token');
    if (given !== null) {
      const r = opts.checkToken(given);
      if (r && allowed.has(r)) {
        setTokenCookie(res, given);
        // Redirect so the token leaves the address bar and the history.
        res.writeHead(303, { location: '/', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }).end();
      } else sendHtml(res, r ? 403 : 401, loginPage(r ? 'That token may not open the dashboard.' : 'That token is not valid.'));
      return;
    }
    const r = role(req);
    if (!r || !allowed.has(r)) return sendHtml(res, 401, loginPage());
    sendHtml(res, 200, await readFile(staticPath(staticDir, 'index.html')!, 'utf8'));
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET') return sendHtml(res, 200, loginPage());
    if (!methodIs(req, res, 'GET', 'POST')) return;
    let body: string;
    try {
      body = await readSmallBody(req, 8192);
    } catch {
      res.setHeader('connection', 'close');
      res.once('finish', () => req.destroy());
      return sendHtml(res, 413, loginPage('The form was too large.'));
    }
    const token = new URLSearchParams(body).get('token')?.trim() ?? '';
    const r = token ? opts.checkToken(token) : null;
    if (!r || !allowed.has(r)) return sendHtml(res, r ? 403 : 401, loginPage(r ? 'That token may not open the dashboard.' : 'That token is not valid.'));
    setTokenCookie(res, token);
    res.writeHead(303, { location: '/', 'cache-control': 'no-store' }).end();
  }

  function asset(res: ServerResponse, name: string): void {
    const path = staticPath(staticDir, name);
    if (!path) return sendError(res, 404, 'not_found', 'no such asset');
    const s = createReadStream(path);
    s.on('open', () => {
      res.writeHead(200, { 'content-type': contentType(path), 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
      s.pipe(res);
    });
    s.on('error', () => {
      if (!res.headersSent) sendError(res, 404, 'not_found', 'no such asset');
      else res.destroy();
    });
  }

  function traces(res: ServerResponse, url: URL, id: string | undefined): void {
    if (id !== undefined) {
      const t = opts.traces.get(id);
      if (!t) return sendError(res, 404, 'not_found', `no trace for ${id} (not sampled, or no longer kept)`);
      return sendJson(res, 200, t);
    }
    const lastParam = url.searchParams.get('last');
    const last = lastParam === null ? 20 : Number(lastParam);
    if (!Number.isInteger(last) || last < 1 || last > 10_000) return sendError(res, 400, 'bad_request', 'last must be an integer from 1 to 10000');
    const fn = url.searchParams.get('function') ?? undefined;
    sendJson(res, 200, { traces: opts.traces.list({ last, ...(fn ? { function: fn } : {}) }) });
  }

  async function reports(res: ServerResponse, rest: string): Promise<void> {
    if (rest === '') return sendJson(res, 200, { reports: await listReports(opts.reportsDir) });
    const slash = rest.indexOf('/');
    let name: string;
    let file: string;
    try {
      name = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
      file = slash < 0 ? '' : rest.slice(slash + 1).split('/').map(decodeURIComponent).join('/');
    } catch {
      return sendError(res, 400, 'bad_request', 'bad path encoding');
    }
    if (file === '') {
      const entry = (await listReports(opts.reportsDir)).find((r) => r.name === name);
      if (!entry) return sendError(res, 404, 'not_found', `no report ${name}`);
      if (!entry.index) return sendJson(res, 200, entry);
      res.writeHead(302, { location: `/v1/reports/${encodeURIComponent(name)}/${entry.index.split('/').map(encodeURIComponent).join('/')}` }).end();
      return;
    }
    const path = await resolveReportFile(opts.reportsDir, name, file);
    if (!path) return sendError(res, 404, 'not_found', `no file ${file} in report ${name}`);
    res.writeHead(200, { 'content-type': contentType(path), 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
    createReadStream(path).pipe(res);
  }

  function route(req: IncomingMessage, res: ServerResponse): Promise<void> | void | false {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const path = url.pathname;
    if (path === '/' || path === '/index.html') return methodIs(req, res, 'GET', 'HEAD') ? page(req, res, url) : undefined;
    if (path === '/login') return login(req, res);
    if (path === '/logout') {
      if (!methodIs(req, res, 'POST')) return;
      clearTokenCookie(res);
      res.writeHead(303, { location: '/' }).end();
      return;
    }
    if (path.startsWith('/dashboard/')) return methodIs(req, res, 'GET', 'HEAD') ? asset(res, path.slice('/dashboard/'.length)) : undefined;
    const isTraces = path === '/v1/traces' || path.startsWith('/v1/traces/');
    const isReports = path === '/v1/reports' || path.startsWith('/v1/reports/');
    if (path !== '/metrics' && path !== '/v1/events' && path !== '/v1/dashboard/state' && !isTraces && !isReports) return false;
    if (!methodIs(req, res, 'GET', 'HEAD') || !authorize(req, res)) return;
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' });
      res.end(opts.metrics.registry.render());
      return;
    }
    if (path === '/v1/events') return stream.open(res, { event: 'state', data: state() });
    if (path === '/v1/dashboard/state') return sendJson(res, 200, state());
    if (isTraces) {
      let id: string | undefined;
      try {
        id = path.length > '/v1/traces/'.length ? decodeURIComponent(path.slice('/v1/traces/'.length)) : undefined;
      } catch {
        return sendError(res, 400, 'bad_request', 'bad trace id encoding');
      }
      return traces(res, url, id);
    }
    return reports(res, path.slice('/v1/reports/'.length));
  }

  return {
    handle(req, res) {
      let result: ReturnType<typeof route>;
      const fail = (err: unknown) => {
        if (!res.headersSent) sendError(res, 500, 'internal', (err as Error)?.message ?? String(err));
        else res.destroy();
      };
      try {
        result = route(req, res);
      } catch (err) {
        fail(err);
        return true;
      }
      if (result === false) return false;
      if (result instanceof Promise) result.catch(fail);
      return true;
    },
    state,
    notify,
    close() {
      unsubscribe();
      clearInterval(ticker);
      if (pushTimer) clearTimeout(pushTimer);
      stream.closeAll();
    },
  };
}
