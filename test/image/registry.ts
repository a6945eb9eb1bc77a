import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate, createPrivateKey, randomUUID, sign as cryptoSign } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
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
  /** What the pusher sends: Basic credentials, or a push token the token service signed. */
  auth: string;
  /** Token auth only: the `service scope` of every token request the service saw. */
  tokenRequests?: () => string[];
  stop(): Promise<void>;
}

/**
 * `htpasswd`: HTTP Basic against a bcrypt htpasswd file. `token`: distribution's token auth — the
 * registry answers 401 with `Bearer realm=…` and trusts JWTs signed by a key whose self-signed
 * certificate is its `rootcertbundle`; the token service is a small server of this test
 * (`startTokenService`) that checks Basic credentials and signs such tokens.
 */
export async function startRegistry(dir: string, user: string, password: string, mode: 'htpasswd' | 'token' = 'htpasswd'): Promise<TestRegistry> {
  mkdirSync(join(dir, 'data'), { recursive: true });
  const port = await freePort();
  let auth: string[];
  let tokens: TokenService | undefined;
  if (mode === 'htpasswd') {
    const htpasswd = spawnSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8', timeout: 30_000 });
    if (htpasswd.status !== 0) throw new Error(`htpasswd failed: ${htpasswd.stderr}`);
    writeFileSync(join(dir, 'htpasswd'), htpasswd.stdout);
    auth = ['  htpasswd:', '    realm: hivelab-test', `    path: ${join(dir, 'htpasswd')}`];
  } else {
    tokens = await startTokenService(dir, user, password);
    auth = ['  token:', `    realm: ${tokens.realm}`, `    service: ${TOKEN_SERVICE}`, `    issuer: ${TOKEN_ISSUER}`, `    rootcertbundle: ${tokens.certFile}`];
  }
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
      ...auth,
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
    auth: tokens ? `Bearer ${tokens.sign(user, 'lab/hello')}` : `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
    ...(tokens ? { tokenRequests: () => tokens.requests } : {}),
    stop: async () => {
      await tokens?.close();
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    },
  };
}

const TOKEN_SERVICE = 'hivelab-test-registry';
const TOKEN_ISSUER = 'hivelab-test-token-service';

interface TokenService {
  realm: string;
  certFile: string;
  requests: string[];
  sign(user: string, repo: string): string;
  close(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** The token service of distribution's token auth: Basic credentials in, a signed JWT out (401 otherwise). */
async function startTokenService(dir: string, user: string, password: string): Promise<TokenService> {
  const keyFile = join(dir, 'token.key');
  const certFile = join(dir, 'token.crt');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=hivelab-test-token'], { encoding: 'utf8', timeout: 60_000 });
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  const key = createPrivateKey(readFileSync(keyFile));
  const der = new X509Certificate(readFileSync(certFile)).raw;
  const sign = (sub: string, repo: string, actions = ['pull', 'push']): string => {
    const now = Math.floor(Date.now() / 1000);
    const head = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [der.toString('base64')] }));
    const claims = b64url(JSON.stringify({ iss: TOKEN_ISSUER, sub, aud: TOKEN_SERVICE, exp: now + 600, nbf: now - 60, iat: now, jti: randomUUID(), access: [{ type: 'repository', name: repo, actions }] }));
    return `${head}.${claims}.${b64url(cryptoSign('RSA-SHA256', Buffer.from(`${head}.${claims}`), key))}`;
  };
  const requests: string[] = [];
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${url.searchParams.get('service')} ${url.searchParams.get('scope')}`);
    const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      return;
    }
    const repo = /^repository:([^:]+):/.exec(url.searchParams.get('scope') ?? '')?.[1] ?? '';
    const token = sign(user, repo, ['pull']);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 600 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { realm: `http://127.0.0.1:${port}/token`, certFile, requests, sign, close: () => new Promise((r) => server.close(() => r())) };
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
