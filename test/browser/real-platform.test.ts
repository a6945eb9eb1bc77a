import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { launchChromium } from './chromium.js';
import { startTestPlatform, removeState, FIXTURES, type TestPlatform } from '../platform/harness.js';

const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts/browser');

describe('dashboard of the real platform in headless Chromium', () => {
  let t: TestPlatform;
  let browser: Awaited<ReturnType<typeof launchChromium>>;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    t = await startTestPlatform();
    expect((await t.deploy(join(FIXTURES, 'echo-node'))).status).toBe(201);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
    await removeState(t.stateDir);
  });

  it('shows an invoked function’s new instance and request count live, and opens its trace', async () => {
    const page = await browser.context.newPage();
    const pageErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const url = t.platform.url;
    expect((await page.goto(`${url}/?token=${t.platform.tokens.admin}`))?.status()).toBe(200);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 30_000 });
    await page.waitForSelector('tr[data-function="echo-node"]', { timeout: 30_000 });
    expect(await page.locator('[data-instance]').count()).toBe(0);

    const r = await t.invoke('echo-node', { from: 'browser-test' });
    expect(r.status).toBe(200);
    const instanceId = r.headers['x-hivelab-instance-id']!;
    const invocationId = r.headers['x-hivelab-invocation-id']!;
    await page.waitForSelector(`[data-instance="${instanceId}"]`, { timeout: 30_000 });
    await page.waitForFunction(
      () => document.querySelector('tr[data-function="echo-node"] [data-metric="invocations"]')?.textContent === '1',
      null,
      { timeout: 30_000 },
    );
    await page.screenshot({ path: join(ARTIFACTS, 'real-platform-live.png'), fullPage: true });

    await page.click(`a.open-trace:text("${invocationId}")`, { timeout: 30_000 });
    await page.waitForSelector('.waterfall .span-row', { timeout: 30_000 });
    const rows = await page.locator('.waterfall .span-row').evaluateAll((els) => els.map((e) => e.getAttribute('data-span')));
    expect(rows[0]).toBe('invocation');
    expect(rows).toEqual(expect.arrayContaining(['activator.queue', 'coldstart', 'coldstart.sandbox.start', 'function.process']));
    await page.screenshot({ path: join(ARTIFACTS, 'real-platform-trace.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
