import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { Tracing } from '../../src/observability/tracing.js';
import { PlatformMetrics } from '../../src/observability/platform-metrics.js';
import { SpanNames, Attr } from '../../src/observability/semantic.js';
import { createDashboard, type Dashboard } from '../../src/dashboard/dashboard.js';
import { TestPlatform } from './test-platform.js';
import { launchChromium } from './chromium.js';

const ADMIN = 'admin-token-for-the-browser-test';
const INVOKE = 'invoke-token-for-the-browser-test';
const ARTIFACTS = resolve('test-artifacts/browser');

let server: Server;
let url: string;
let dir: string;
let tracing: Tracing;
let metrics: PlatformMetrics;
let platform: TestPlatform;
let dashboard: Dashboard;
let browser: { context: BrowserContext; close: () => Promise<void> };

const PLOT = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60"><rect width="120" height="60" fill="#2f6fed"/></svg>';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hivelab-dashboard-'));
  await mkdir(ARTIFACTS, { recursive: true });
  const report = join(dir, 'reports', 'bench-warm-2026-11-25');
  await mkdir(join(report, 'plots'), { recursive: true });
  await writeFile(join(report, 'report.html'), '<!doctype html><title>bench</title><h1>Warm path</h1><img src="plots/latency.svg">');
  await writeFile(join(report, 'plots', 'latency.svg'), PLOT);

  tracing = await Tracing.create({ sampleRate: 1, storeDir: join(dir, 'traces'), storeMaxTraces: 100 });
  metrics = new PlatformMetrics();
  platform = new TestPlatform();
  platform.deploy('hello');
  dashboard = createDashboard({
    view: platform, metrics, traces: tracing.store, reportsDir: join(dir, 'reports'),
    checkToken: (t) => (t === ADMIN ? 'admin' : t === INVOKE ? 'invoke' : null),
    refreshMs: 500,
  });
  server = createServer((req, res) => {
    if (!dashboard.handle(req, res)) res.writeHead(404).end('gateway: not a dashboard route');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  dashboard?.close();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await tracing?.shutdown();
  await rm(dir, { recursive: true, force: true });
});

/** What the control plane does for one invocation: a trace with its phases, and the metrics. */
async function invoke(fn: string, instance: string, invocationId: string, cold: boolean): Promise<void> {
  const inv = tracing.startInvocation(fn, invocationId, undefined, { [Attr.cold]: cold, [Attr.instanceId]: instance });
  inv.span(SpanNames.gateway, () => undefined);
  if (cold) {
    const c = inv.startSpan(SpanNames.coldStart, { [Attr.coldStartMode]: 'reap' });
    // The worker restores the instance and reports its timings afterwards, as epoch ms.
    const t = Date.now();
    await new Promise((r) => setTimeout(r, 40));
    inv.addCompletedSpan(SpanNames.sandboxRestore, t + 1, t + 31, undefined, c);
    inv.addCompletedSpan(SpanNames.wsInstall, t + 31, t + 35, { [Attr.pagesPrefetched]: 812, [Attr.faultsOnDemand]: 9 }, c);
    c.end();
  }
  inv.span(SpanNames.functionProcess, () => undefined);
  inv.end('ok');
  metrics.recordInvocation(fn, instance, cold ? 48 : 3, 'ok', cold);
}

async function text(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent({ timeout: 30_000 })) ?? '';
}

describe('dashboard in headless Chromium', () => {
  it('signs in with the URL token, shows instances and counts live, and opens a trace waterfall', async () => {
    const page = await browser.context.newPage();
    const seenRequests: string[] = [];
    const pageErrors: string[] = [];
    page.on('request', (r) => seenRequests.push(r.url()));
    // Script errors and CSP violations both surface here; the page must produce none.
    page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const resp = await page.goto(`${url}/?token=${ADMIN}`);
    expect(resp?.status()).toBe(200);
    // The token left the address bar; the cookie holding it is out of the scripts' reach.
    expect(page.url()).toBe(`${url}/`);
    const cookie = (await browser.context.cookies(url)).find((c) => c.name === 'hivelab_token')!;
    expect(cookie).toMatchObject({ value: ADMIN, httpOnly: true, sameSite: 'Strict' });
    expect(await page.evaluate(() => document.cookie)).toBe('');

    await page.waitForSelector('#connection[data-state="live"]', { timeout: 30_000 });
    await page.waitForSelector('tr[data-function="hello"]', { timeout: 30_000 });
    expect(await text(page, 'tr[data-function="hello"] [data-metric="invocations"]')).toBe('0');

    platform.setInstance('hello', 'hello-7f3a', 'starting');
    await page.waitForSelector('[data-instance="hello-7f3a"][data-state="starting"]', { timeout: 30_000 });
    platform.setInstance('hello', 'hello-7f3a', 'ready');
    await page.waitForSelector('[data-instance="hello-7f3a"][data-state="ready"]', { timeout: 30_000 });
    expect(await text(page, '#events li')).toContain('instance.ready');

    await invoke('hello', 'hello-7f3a', 'inv-cold-1', true);
    await invoke('hello', 'hello-7f3a', 'inv-warm-2', false);
    dashboard.notify();
    await page.waitForFunction(() => document.querySelector('tr[data-function="hello"] [data-metric="invocations"]')?.textContent === '2', null, { timeout: 30_000 });
    // p99 of {3, 48} by the platform's percentile (docs/STATISTICS.md): 3 + 0.99 · 45 = 47.55
    expect(await text(page, 'tr[data-function="hello"] [data-metric="p99"]')).toBe('47.5 ms');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-live.png'), fullPage: true });

    await page.click('a.open-trace:text("inv-cold-1")');
    await page.waitForSelector('.waterfall .span-row', { timeout: 30_000 });
    const rows = await page.locator('.waterfall .span-row').evaluateAll((els) => els.map((e) => e.getAttribute('data-span')));
    expect(rows).toEqual([SpanNames.invocation, SpanNames.gateway, SpanNames.coldStart, SpanNames.sandboxRestore, SpanNames.wsInstall, SpanNames.functionProcess]);
    // Attributes of a span open on click: the working-set statistics of the restore.
    expect(await page.locator(`.span-row[data-span="${SpanNames.wsInstall}"] .span-attrs`).isVisible()).toBe(false);
    await page.click(`.span-row[data-span="${SpanNames.wsInstall}"]`);
    expect(await page.locator(`.span-row[data-span="${SpanNames.wsInstall}"] .span-attrs`).isVisible()).toBe(true);
    expect(await text(page, `.span-row[data-span="${SpanNames.wsInstall}"] .span-attrs`)).toContain('812');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-trace.png'), fullPage: true });
    expect(seenRequests.every((u) => u.startsWith(url))).toBe(true);
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it('draws the autoscaler history with panic windows, snapshot statistics and the reports', async () => {
    const now = Date.now();
    platform.scale.set('hello', [
      { time: now - 60_000, desired: 1, actual: 1, panic: false },
      { time: now - 40_000, desired: 6, actual: 2, panic: true },
      { time: now - 30_000, desired: 6, actual: 5, panic: true },
      { time: now - 10_000, desired: 3, actual: 6, panic: false },
    ]);
    platform.snapshots.set('hello', { snapshotBytes: 64 << 20, memoryBytes: 256 << 20, workingSetBytes: 8 << 20, workingSetPages: 2048, pagesPrefetched: 2048, pagesOnDemand: 37, restores: 5, lastRestoreMs: 61 });
    platform.emit({ type: 'scale', function: 'hello' });
    const page = await browser.context.newPage();
    await page.goto(`${url}/`);
    await page.waitForSelector('#scale figure[data-function="hello"] svg path.actual', { timeout: 30_000 });
    expect(await page.locator('#scale figure[data-function="hello"] rect.panic').count()).toBe(1);
    expect(await text(page, '#snapshots tr[data-function="hello"] [data-metric="on-demand"]')).toBe('37');
    await page.waitForSelector('li[data-report="bench-warm-2026-11-25"] img', { timeout: 30_000 });
    await page.waitForFunction(() => {
      const img = document.querySelector('li[data-report="bench-warm-2026-11-25"] img') as HTMLImageElement | null;
      return !!img && img.complete && img.naturalWidth === 120;
    }, null, { timeout: 30_000 });
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('li[data-report="bench-warm-2026-11-25"] a:text("bench-warm-2026-11-25")')]);
    await popup.waitForLoadState();
    expect(await popup.locator('h1').textContent()).toBe('Warm path');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-scale-reports.png'), fullPage: true });
    await popup.close();
    await page.close();
  });

  it('without a cookie shows the login form, rejects a wrong or invoke token, accepts the admin token', async () => {
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    const first = await page.goto(`${url}/`);
    expect(first?.status()).toBe(401);
    await page.fill('#token', 'wrong');
    await page.click('button[type="submit"]');
    expect(await text(page, '.error')).toContain('not valid');
    await page.fill('#token', INVOKE);
    await page.click('button[type="submit"]');
    expect(await text(page, '.error')).toContain('may not');
    await page.fill('#token', ADMIN);
    await page.click('button[type="submit"]');
    await page.waitForSelector('tr[data-function="hello"]', { timeout: 30_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-after-login.png'), fullPage: true });
    await page.click('header button:text("Sign out")');
    await page.waitForSelector('#token', { timeout: 30_000 });
    expect((await browser.context.cookies(url)).find((c) => c.name === 'hivelab_token')).toBeUndefined();
    await page.close();
  });
});
