import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import { parseManifest } from '../../src/manifest/validate.js';
import type { InstanceSpec } from '../../src/sandbox/backend.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = join(REPO, 'test/fixtures');

/**
 * Compiles a runtime entry (the Node shim unless told, e.g. the port bridge) and whatever it imports into a private folder and adds the Python
 * files, exactly as `tsc && node scripts/copy-assets.mjs` does for dist/, without depending on (or
 * disturbing) a dist/ that other work in the tree may be rebuilding. Returns `<out>/runtime`.
 */
export function buildRuntime(outDir: string, entry = 'src/runtime/node/shim.cts'): string {
  const tsc = join(REPO, 'node_modules/typescript/bin/tsc');
  const args = [tsc, '--outDir', outDir, '--rootDir', join(REPO, 'src'), '--module', 'NodeNext', '--moduleResolution', 'NodeNext',
    '--target', 'ES2022', '--lib', 'ES2023', '--types', 'node', '--strict', '--skipLibCheck', '--esModuleInterop', '--resolveJsonModule',
    join(REPO, entry)];
  try {
    execFileSync(process.execPath, args, { stdio: 'pipe' });
  } catch {
    // Type errors elsewhere in a tree under construction must not stop us: tsc still emits.
  }
  execFileSync(process.execPath, [join(REPO, 'scripts/copy-assets.mjs'), outDir], { stdio: 'pipe' });
  return join(outDir, 'runtime');
}

export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `hivelab-${prefix}-`));
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

let counter = 0;

/** An InstanceSpec for a fixture function, with its own run folder and log under `work`. */
export function fixtureSpec(fixture: string, work: string, overrides: Record<string, unknown> = {}): InstanceSpec {
  const functionDir = join(FIXTURES, fixture);
  const manifest = parseManifest({ ...JSON.parse(readFileSync(join(functionDir, 'function.json'), 'utf8')), ...overrides });
  const instanceId = `t${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
  return {
    instanceId,
    manifest,
    functionDir,
    runDir: join(work, 'run', instanceId),
    logFile: join(work, 'logs', `${instanceId}.log`),
  };
}

export interface InvokeResult {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  json<T = any>(): T;
}

/** One request to a runtime shim over its Unix socket (a fresh connection unless `client` is given). */
export async function callShim(
  socketPath: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
  method: 'GET' | 'POST' = 'POST',
  client?: Client,
): Promise<InvokeResult> {
  const c = client ?? new Client('http://localhost', { socketPath });
  try {
    const res = await c.request({ path, method, body, headers });
    const buf = Buffer.from(await res.body.arrayBuffer());
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) flat[k] = Array.isArray(v) ? v.join(', ') : String(v);
    return { status: res.statusCode, headers: flat, body: buf, json: () => JSON.parse(buf.toString('utf8')) };
  } finally {
    if (!client) await c.close();
  }
}

export function invokeJson(socketPath: string, event: unknown, headers: Record<string, string> = {}, client?: Client): Promise<InvokeResult> {
  const h = { 'content-type': 'application/json', 'x-hivelab-invocation-id': 'inv-1', ...headers };
  return callShim(socketPath, '/invoke', JSON.stringify(event), h, 'POST', client);
}

/** Host processes whose command line mentions `needle` (to prove nothing was left behind). */
export function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // the launcher's argv names nothing; the runtime's environment carries HIVELAB_INSTANCE
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (cmd.includes(needle) || env.includes(needle)) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}
