import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import { statePaths } from '../config/state.js';
import { readTokens, type Tokens } from './tokens.js';

/** What a CLI command needs to talk to a running platform: its URL and tokens, from the state folder. */
export interface PlatformClient {
  url: string;
  tokens: Tokens;
  stateDir: string;
}

export async function connect(stateDir?: string): Promise<PlatformClient> {
  const paths = statePaths(stateDir);
  let info: { url?: string };
  try {
    info = JSON.parse(await readFile(paths.platform, 'utf8')) as { url?: string };
  } catch {
    throw new Error(`no platform is running with state folder ${paths.root} (start one with \`hivelab up --state ${paths.root}\`)`);
  }
  if (!info.url) throw new Error(`${paths.platform} has no url`);
  return { url: info.url, tokens: await readTokens(paths.tokens), stateDir: paths.root };
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** One HTTP call to the platform; `role` picks the token. */
export async function call(
  c: PlatformClient,
  method: string,
  path: string,
  opts: { body?: Buffer | string; contentType?: string; role?: 'admin' | 'invoke' } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { authorization: `Bearer ${c.tokens[opts.role ?? 'admin']}` };
  if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  let res;
  try {
    res = await request(c.url + path, { method: method as 'GET', headers, body: opts.body });
  } catch (err) {
    throw new Error(`cannot reach the platform at ${c.url}: ${(err as Error).message}`);
  }
  const body = Buffer.from(await res.body.arrayBuffer());
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h[k] = v;
  return { status: res.statusCode, headers: h, body };
}

/** Calls an admin endpoint and returns its JSON, turning an error response into a thrown message. */
export async function callJson<T>(c: PlatformClient, method: string, path: string, body?: unknown): Promise<T> {
  const res = await call(c, method, path, body === undefined ? {} : { body: JSON.stringify(body) });
  const text = res.body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { error: { message: text } };
  }
  if (res.status >= 400) {
    const e = (parsed as { error?: { message?: string } }).error;
    throw new Error(`${e?.message ?? `HTTP ${res.status}`} (HTTP ${res.status})`);
  }
  return parsed as T;
}
