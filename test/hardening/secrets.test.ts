/**
 * Secrets never sit where another local user can read them (issue 18): no process's command line or
 * environment holds the XDT seal key, the tokens, the Redis password or the S3 secret; the state
 * folder and stored objects are the platform's only; the S3 server refuses unsigned requests.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startTestPlatform, removeState, type TestPlatform } from '../platform/harness.js';
import type { WorkerConfig } from '../../src/worker/protocol.js';

async function everyProcessText(): Promise<{ pid: string; text: string }[]> {
  const out: { pid: string; text: string }[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const parts = await Promise.all(['cmdline', 'environ'].map((f) => readFile(`/proc/${pid}/${f}`).catch(() => Buffer.alloc(0))));
    out.push({ pid, text: Buffer.concat(parts).toString('latin1') });
  }
  return out;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

describe('secrets stay with the platform', () => {
  let t: TestPlatform;
  let transfers: WorkerConfig['transfers'];

  beforeAll(async () => {
    t = await startTestPlatform({ workers: 1 });
    transfers = (t.platform.control as unknown as { opts: { transfers: WorkerConfig['transfers'] } }).opts.transfers;
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    if (t) await removeState(t.stateDir);
  });

  it('no command line or environment on the host holds a secret of the platform', async () => {
    expect(transfers.redis?.password).toBeTruthy();
    expect(transfers.s3?.credentials.secretAccessKey).toBeTruthy();
    const secrets: Record<string, string> = {
      'XDT seal key': transfers.sealKeyHex,
      'invoke token': t.platform.tokens.invoke,
      'admin token': t.platform.tokens.admin,
      'Redis password': transfers.redis!.password!,
      'S3 secret key': transfers.s3!.credentials.secretAccessKey,
    };
    const workerPid = String(t.platform.control.workers[0]!.pid);
    const procs = await everyProcessText();
    expect(procs.some((p) => p.pid === workerPid)).toBe(true);
    for (const { pid, text } of procs) {
      for (const [what, secret] of Object.entries(secrets)) expect(text.includes(secret), `${what} readable in /proc/${pid}`).toBe(false);
    }
  });

  it('the state folder is closed to other users; stored objects are not world-readable', async () => {
    expect((await stat(t.stateDir)).mode & 0o077).toBe(0);
    const s3 = transfers.s3!;
    const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, forcePathStyle: true });
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'tenant-object', Body: 'tenant data' }));
    client.destroy();
    const files = await filesUnder(join(t.stateDir, 's3'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect((await stat(f)).mode & 0o077, f).toBe(0);
    expect((await stat(join(t.stateDir, 's3'))).mode & 0o077).toBe(0);
    expect((await stat(join(t.stateDir, 'tokens.json'))).mode & 0o077).toBe(0);
  });

  it('the S3 server refuses unsigned requests and the well-known s3rver key', async () => {
    const s3 = transfers.s3!;
    const anon = await request(`${s3.endpoint}/${s3.bucket}/tenant-object`);
    await anon.body.dump();
    expect(anon.statusCode).toBe(403);
    const list = await request(`${s3.endpoint}/${s3.bucket}`);
    await list.body.dump();
    expect(list.statusCode).toBe(403);
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      forcePathStyle: true,
    });
    await expect(client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'x', Body: 'x' }))).rejects.toThrow();
    client.destroy();
  });
});
