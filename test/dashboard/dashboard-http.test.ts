import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { Tracing } from '../../src/observability/tracing.js';
import { PlatformMetrics } from '../../src/observability/platform-metrics.js';
import { createDashboard, type Dashboard, type DashboardState } from '../../src/dashboard/dashboard.js';
import { TestPlatform } from '../browser/test-platform.js';
import traceCommand from '../../src/cli/commands/trace.js';

const ADMIN = 'a-admin-token';
const INVOKE = 'a-invoke-token';
let dir: string;
let server: Server;
let url: string;
let tracing: Tracing;
let metrics: PlatformMetrics;
let platform: TestPlatform;
let dashboard: Dashboard;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hivelab-dash-http-'));
  await mkdir(join(dir, 'reports', 'coldstart-reap'), { recursive: true });
  await writeFile(join(dir, 'reports', 'coldstart-reap', 'summary.csv'), 'mode,p50\nreap,61\n');
  await writeFile(join(dir, 'secret.txt'), 'outside the reports folder');
  await symlink(join(dir, 'secret.txt'), join(dir, 'reports', 'coldstart-reap', 'escape.txt'));
  tracing = await Tracing.create({ sampleRate: 1 });
  metrics = new PlatformMetrics();
  platform = new TestPlatform();
  platform.deploy('hello');
  dashboard = createDashboard({
    view: platform, metrics, traces: tracing.store, reportsDir: join(dir, 'reports'),
    checkToken: (t) => (t === ADMIN ? 'admin' : t === INVOKE ? 'invoke' : null), refreshMs: 60_000,
  });
  server = createServer((req, res) => {
    if (!dashboard.handle(req, res)) res.writeHead(418).end('not mine');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  // A state folder as `hivelab up` leaves it, for the CLI.
  await writeFile(join(dir, 'platform.json'), JSON.stringify({ pid: process.pid, url }));
  await writeFile(join(dir, 'tokens.json'), JSON.stringify({ admin: ADMIN, invoke: INVOKE }));
});

afterAll(async () => {
  dashboard?.close();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await tracing?.shutdown();
  await rm(dir, { recursive: true, force: true });
});

async function get(path: string, token?: string) {
  const res = await request(url + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

describe('dashboard routes', () => {
  it('leaves other routes to the gateway and guards data behind the admin token', async () => {
    expect((await get('/invoke/hello', ADMIN)).status).toBe(418);
    expect((await get('/v1/functions', ADMIN)).status).toBe(418);
    for (const path of ['/metrics', '/v1/traces', '/v1/reports', '/v1/dashboard/state', '/v1/events']) {
      expect((await get(path)).status, path).toBe(401);
      expect((await get(path, INVOKE)).status, path).toBe(403);
      expect(JSON.parse((await get(path, 'nope')).body).error.type).toBe('unauthorized');
    }
    const page = await get('/');
    expect(page.status).toBe(401);
    expect(page.body).toContain('<form method="post" action="/login">');
    // Assets load without a token (the login form needs the stylesheet) and only by plain names.
    expect((await get('/dashboard/style.css')).status).toBe(200);
    expect((await get('/dashboard/..%2Fpackage.json')).status).toBe(404);
    expect((await get('/dashboard/../package.json')).status).not.toBe(200);
    const big = await request(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${'x'.repeat(20_000)}` });
    expect(big.statusCode).toBe(413);
    await big.body.text();
  });

  it('serves /metrics in the Prometheus text format', async () => {
    metrics.recordInvocation('hello', 'hello-1', 12);
    const res = await get('/metrics', ADMIN);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.body).toContain('hivelab_invocations_total{function="hello",instance="hello-1",outcome="ok",cold="0"} 1');
  });

  it('serves traces by invocation id and lists them by function; the CLI prints them', async () => {
    const inv = tracing.startInvocation('hello', 'inv-http-1');
    inv.span('function.process', () => undefined);
    inv.end('ok');
    const other = tracing.startInvocation('other', 'inv-http-2');
    other.end('ok');
    const t = JSON.parse((await get('/v1/traces/inv-http-1', ADMIN)).body);
    expect(t.spans.map((s: { name: string }) => s.name)).toEqual(['invocation', 'function.process']);
    expect(JSON.parse((await get(`/v1/traces/${t.traceId}`, ADMIN)).body).summary.invocationIds).toEqual(['inv-http-1']);
    expect((await get('/v1/traces/missing', ADMIN)).status).toBe(404);
    expect((await get('/v1/traces?last=0', ADMIN)).status).toBe(400);
    expect((await get('/v1/traces/%E0%A4%A', ADMIN)).status).toBe(400);
    const list = JSON.parse((await get('/v1/traces?function=hello&last=5', ADMIN)).body).traces;
    expect(list.map((s: { invocationIds: string[] }) => s.invocationIds[0])).toEqual(['inv-http-1']);

    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    try {
      expect(await traceCommand.run(['inv-http-1', '--state', dir, '--width', '90'])).toBe(0);
      expect(await traceCommand.run(['--function', 'other', '--last', '3', '--state', dir])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const [waterfall, listing] = out;
    expect(waterfall).toContain(`trace ${t.traceId}`);
    expect(waterfall).toMatch(/\n {2}function\.process +\S+ms \|/);
    expect(listing).toContain('inv-http-2');
    expect(listing).not.toContain('inv-http-1');
    await expect(traceCommand.run(['missing', '--state', dir])).rejects.toThrow(/no trace for missing.*404/);
  });

  it('lists reports and serves their files, never a file outside the report', async () => {
    const { reports } = JSON.parse((await get('/v1/reports', ADMIN)).body);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ name: 'coldstart-reap', kind: 'coldstart' });
    const csv = await get('/v1/reports/coldstart-reap/summary.csv', ADMIN);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.body).toBe('mode,p50\nreap,61\n');
    expect((await get('/v1/reports/coldstart-reap/escape.txt', ADMIN)).status).toBe(404);
    expect((await get('/v1/reports/coldstart-reap/..%2F..%2Fsecret.txt', ADMIN)).status).toBe(404);
    expect((await get('/v1/reports/..%2Fsecret.txt', ADMIN)).status).toBe(404);
  });

  it('streams state over server-sent events and pushes platform events as they happen', async () => {
    const frames: Array<{ event: string; data: unknown }> = [];
    const req = httpRequest(`${url}/v1/events`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const done = new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const event = /^event: (.*)$/m.exec(frame)?.[1];
            const data = /^data: (.*)$/m.exec(frame)?.[1];
            if (event && data) frames.push({ event, data: JSON.parse(data) });
            if (event === 'state' && (JSON.parse(data!) as DashboardState).functions[0]?.instances.length === 1) {
              req.destroy();
              resolve();
            }
          }
        });
      });
      req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err)));
    });
    req.end();
    await vi.waitFor(() => expect(frames.length).toBeGreaterThan(0), { timeout: 30_000 });
    expect(frames[0]!.event).toBe('state');
    expect((frames[0]!.data as DashboardState).functions.map((f) => f.name)).toEqual(['hello']);
    platform.setInstance('hello', 'hello-1', 'starting');
    await done;
    expect(frames.some((f) => f.event === 'platform' && (f.data as { type: string }).type === 'instance.starting')).toBe(true);
    expect(platform.listenerCount).toBe(1);
  });
});
