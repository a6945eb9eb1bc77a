import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Blobs } from './image-builder.js';
import { sha } from './image-builder.js';

/**
 * A real registry for tests: Debian's `docker-registry` (the CNCF distribution registry) on a free
 * loopback port, with htpasswd (bcrypt, made by apache2-utils' `htpasswd`) auth, and a pusher that
 * speaks the distribution API (POST+PUT a blob upload, PUT a manifest).
 */

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export function registryUnavailableReason(): string | undefined {
  if (!existsSync(REGISTRY_BIN)) return 'docker-registry is not installed (apt-get install docker-registry)';
  if (spawnSync('htpasswd', ['-h'], { encoding: 'utf8' }).error) return 'htpasswd is not installed (apt-get install apache2-utils)';
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestRegistry {
  host: string;
  auth: string;
  stop(): Promise<void>;
}

export async function startRegistry(dir: string, user: string, password: string): Promise<TestRegistry> {
  mkdirSync(join(dir, 'data'), { recursive: true });
  const htpasswd = spawnSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8', timeout: 30_000 });
  if (htpasswd.status !== 0) throw new Error(`htpasswd failed: ${htpasswd.stderr}`);
  writeFileSync(join(dir, 'htpasswd'), htpasswd.stdout);
  const port = await freePort();
  writeFileSync(
    join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      'auth:',
      '  htpasswd:',
      '    realm: hivelab-test',
      `    path: ${join(dir, 'htpasswd')}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const host = `127.0.0.1:${port}`;
  const until = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
    const ok = await fetch(`http://${host}/v2/`).then((r) => r.status === 401, () => false);
    if (ok) break;
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not answer on ${host}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    host,
    auth: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Pushes an image's blobs and its manifest under `name:tag` (distribution API, monolithic uploads). */
export async function pushImage(reg: TestRegistry, name: string, tag: string, blobs: Blobs): Promise<string> {
  const base = `http://${reg.host}/v2/${name}`;
  for (const blob of [blobs.config, ...blobs.layers.map((l) => l.bytes)]) {
    const start = await fetch(`${base}/blobs/uploads/`, { method: 'POST', headers: { authorization: reg.auth } });
    if (start.status !== 202) throw new Error(`upload start: ${start.status} ${await start.text()}`);
    const location = new URL(start.headers.get('location')!, `http://${reg.host}`);
    location.searchParams.set('digest', sha(blob));
    const put = await fetch(location, { method: 'PUT', headers: { authorization: reg.auth, 'content-type': 'application/octet-stream' }, body: blob });
    if (put.status !== 201) throw new Error(`blob upload: ${put.status} ${await put.text()}`);
  }
  const m = await fetch(`${base}/manifests/${tag}`, {
    method: 'PUT',
    headers: { authorization: reg.auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: blobs.manifest,
  });
  if (m.status !== 201) throw new Error(`manifest put: ${m.status} ${await m.text()}`);
  return sha(blobs.manifest);
}
