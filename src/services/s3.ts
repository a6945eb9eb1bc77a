/**
 * The embedded S3-API server for the storage transport: s3rver in its own Node process (so 100 MB
 * uploads never load the control plane), on 127.0.0.1 with a private port and its data under
 * `<state>/s3`. Any real S3 endpoint can replace it: the transport only needs an S3Config.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { freePort } from './free-port.js';
import { startManagedProcess, type ServiceCrashedError } from './managed-process.js';
import type { S3Config } from '../transfer/storage.js';

export interface S3Service {
  config: S3Config;
  readonly crashed: boolean;
  stop(): Promise<void>;
}

/** s3rver's fixed development credentials (it only listens on loopback). */
const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

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

export async function startS3(opts: { stateDir: string; bucket?: string; onCrash?: (err: ServiceCrashedError) => void }): Promise<S3Service> {
  const dir = path.join(opts.stateDir, 's3');
  await fs.mkdir(dir, { recursive: true });
  const bucket = opts.bucket ?? 'hivelab';
  const port = await freePort();
  const s3rverPath = createRequire(import.meta.url).resolve('s3rver');
  const script = `
    const S3rver = require(${JSON.stringify(s3rverPath)});
    new S3rver({ address: '127.0.0.1', port: ${port}, directory: ${JSON.stringify(dir)}, silent: true,
      configureBuckets: [{ name: ${JSON.stringify(bucket)}, configs: [] }] })
      .run().then(() => console.log('ready'), (e) => { console.error(e); process.exit(1); });
    process.on('SIGTERM', () => process.exit(0));
  `;
  const proc = await startManagedProcess({
    name: 's3rver',
    command: process.execPath,
    args: ['-e', script],
    spawn: { env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
    probe: () => probe(port),
    onCrash: opts.onCrash,
  });
  return {
    config: { endpoint: `http://127.0.0.1:${port}`, bucket, region: 'us-east-1', credentials: S3RVER_CREDENTIALS },
    get crashed() {
      return proc.crashed;
    },
    stop: () => proc.stop(),
  };
}
