import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { startPlatform, type Platform, type PlatformOptions } from '../../src/platform.js';

export const FIXTURES = resolve(import.meta.dirname, '../fixtures/functions');
export const EXAMPLES = resolve(import.meta.dirname, '../../examples');

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  json(): any;
}

export interface TestPlatform {
  platform: Platform;
  stateDir: string;
  invoke(name: string, body?: unknown, opts?: { token?: string | null; contentType?: string; raw?: Buffer }): Promise<Reply>;
  api(method: string, path: string, body?: unknown, token?: string | null): Promise<Reply>;
  deploy(dir: string): Promise<Reply>;
  stop(): Promise<void>;
}

async function send(url: string, method: string, headers: Record<string, string>, body?: Buffer | string): Promise<Reply> {
  const res = await request(url, { method: method as 'POST', headers, body });
  const buf = Buffer.from(await res.body.arrayBuffer());
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h[k] = v;
  return { status: res.statusCode, headers: h, body: buf, json: () => JSON.parse(buf.toString('utf8')) };
}

/** Starts a real platform (real worker processes and sandboxes) on a free port with a fresh state folder. */
export async function startTestPlatform(opts: PlatformOptions = {}, stateDir?: string): Promise<TestPlatform> {
  const dir = stateDir ?? (await mkdtemp(join(tmpdir(), 'hivelab-test-')));
  const platform = await startPlatform({ port: 0, quiet: true, ...opts, stateDir: dir });
  const t: TestPlatform = {
    platform,
    stateDir: dir,
    invoke(name, body = {}, o = {}) {
      const headers: Record<string, string> = { 'content-type': o.contentType ?? 'application/json' };
      const token = o.token === undefined ? platform.tokens.invoke : o.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      return send(`${platform.url}/invoke/${name}`, 'POST', headers, o.raw ?? JSON.stringify(body));
    },
    api(method, path, body, token) {
      const headers: Record<string, string> = {};
      const tok = token === undefined ? platform.tokens.admin : token;
      if (tok !== null) headers.authorization = `Bearer ${tok}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      return send(`${platform.url}${path}`, method, headers, body === undefined ? undefined : JSON.stringify(body));
    },
    deploy(d) {
      return t.api('POST', '/v1/functions', { path: d });
    },
    async stop() {
      await platform.stop();
    },
  };
  return t;
}

export async function removeState(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Polls until `check` returns a truthy value (or throws after `timeoutMs`). */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
