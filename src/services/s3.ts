/**
 * The embedded S3-API server for the storage transport: s3rver in its own Node process (so 100 MB
 * uploads never load the control plane), on 127.0.0.1 with a private port and its data under
 * `<state>/s3`. Any real S3 endpoint can replace it: the transport only needs an S3Config.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { onFreePort } from './free-port.js';
import { startManagedProcess, type ServiceCrashedError, type ServiceStatus } from './managed-process.js';
import type { S3Config } from '../transfer/storage.js';

export interface S3Service {
  config: S3Config;
  readonly crashed: boolean;
  status(): ServiceStatus;
  stop(): Promise<void>;
}

function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

export async function startS3(opts: {
  stateDir: string;
  bucket?: string;
  onCrash?: (err: ServiceCrashedError) => void;
  onRestart?: (name: string, restarts: number) => void;
}): Promise<S3Service> {
  const dir = path.join(opts.stateDir, 's3');
  // tenants' objects: readable by the platform only (the folder, and each file s3rver writes)
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
  const bucket = opts.bucket ?? 'hivelab';
  // Fresh credentials per run, in place of s3rver's well-known S3RVER/S3RVER; they reach the server on
  // its stdin (never argv or env). s3rver serves unsigned requests as anonymous, which on a shared
  // host means any local user could read every object: the first middleware refuses them.
  const credentials = { accessKeyId: `HL${randomBytes(9).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(24).toString('base64url') };
  const require = createRequire(import.meta.url);
  const s3rverPath = require.resolve('s3rver');
  const accountPath = path.join(path.dirname(s3rverPath), 'models', 'account.js');
  const script = (port: number) => `
    process.umask(0o077);
    let input = '';
    process.stdin.setEncoding('utf8').on('data', (d) => (input += d)).on('end', () => {
      const creds = JSON.parse(input);
      const S3rver = require(${JSON.stringify(s3rverPath)});
      const Account = require(${JSON.stringify(accountPath)});
      Account.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
      Account.DUMMY_ACCOUNT.createKeyPair(creds.accessKeyId, creds.secretAccessKey);
      const server = new S3rver({ address: '127.0.0.1', port: ${port}, directory: ${JSON.stringify(dir)}, silent: true,
        configureBuckets: [{ name: ${JSON.stringify(bucket)}, configs: [] }] });
      server.middleware.unshift((ctx, next) => {
        const q = ctx.querystring || '';
        if (ctx.get('authorization') || /(^|&)(Signature|X-Amz-Algorithm)=/.test(q)) return next();
        ctx.status = 403;
        ctx.body = 'signed requests only';
      });
      server.run().then(() => console.log('ready'), (e) => { console.error(e); process.exit(1); });
    });
    process.on('SIGTERM', () => process.exit(0));
  `;
  const { port, proc } = await onFreePort(async (port) => ({ port, proc: await startManagedProcess({
    name: 's3rver',
    command: process.execPath,
    args: ['-e', script(port)],
    spawn: { env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
    stdin: JSON.stringify(credentials),
    // 'ready' is printed by this child only: an HTTP answer alone may come from whoever took the port
    readyLine: 'ready',
    probe: () => probe(port),
    onCrash: opts.onCrash,
    onRestart: opts.onRestart,
  }) }));
  return {
    config: { endpoint: `http://127.0.0.1:${port}`, bucket, region: 'us-east-1', credentials },
    get crashed() {
      return proc.crashed;
    },
    status: () => proc.status(),
    stop: () => proc.stop(),
  };
}
