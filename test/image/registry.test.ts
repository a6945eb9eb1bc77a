import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ImageStore } from '../../src/image/store.js';
import { launcherUnavailableReason } from '../../src/sandbox/root.js';
import { removeState, startTestPlatform, type TestPlatform } from '../platform/harness.js';
import { hivelab } from './cli.js';
import { busyboxLayer, makeTar, ociBlobs, serverConfig } from './image-builder.js';
import { pushImage, registryUnavailableReason, startRegistry, type TestRegistry } from './registry.js';

/**
 * Pulls from a real registry (Debian's docker-registry, htpasswd auth) the test starts and pushes
 * to: with the right credentials, the wrong password, none, an unknown tag, by digest; then the
 * image deployed with `hivelab deploy --image HOST:PORT/NAME:TAG` and invoked through the gateway.
 */

const skip = registryUnavailableReason();
if (skip) console.warn(`skipping registry tests: ${skip}`);
const noSandbox = launcherUnavailableReason();

let work: string;
let reg: TestRegistry;
let manifestDigest: string;
const blobs = ociBlobs({ layers: [busyboxLayer(), makeTar([{ name: 'app/', type: 'dir' }, { name: 'app/from-registry', body: 'yes' }])], config: serverConfig() });

beforeAll(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'hivelab-registry-'));
  reg = await startRegistry(join(work, 'registry'), 'researcher', 's3cret-pass');
  manifestDigest = await pushImage(reg, 'lab/hello', 'v1', blobs);
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(skip)('a registry with auth', () => {
  const creds = { username: 'researcher', password: 's3cret-pass' };

  test('pull with credentials: every blob verified, the record names the manifest digest', async () => {
    const store = new ImageStore(join(work, 'store-a'));
    const rec = await store.pull(`${reg.host}/lab/hello:v1`, { credentials: creds, insecure: true });
    expect(rec.manifestDigest).toBe(manifestDigest);
    expect(rec.origin).toEqual({ transport: 'registry', repository: `${reg.host}/lab/hello` });
    expect(rec.diffIds).toHaveLength(2);
    const root = await store.rootfs(rec.id, 100_001);
    expect(readFileSync(join(root, 'app/from-registry'), 'utf8')).toBe('yes');
    // by digest, with http:// in the reference instead of the flag
    const byDigest = await store.pull(`http://${reg.host}/lab/hello@${manifestDigest}`, { credentials: creds });
    expect(byDigest.id).toBe(rec.id);
  });

  test('wrong password, no credentials, unknown tag, unknown repository: clear errors', async () => {
    const store = new ImageStore(join(work, 'store-b'));
    const wrong = await store.pull(`${reg.host}/lab/hello:v1`, { credentials: { ...creds, password: 'nope' }, insecure: true }).catch((e: Error) => e);
    expect(String(wrong)).toMatch(/401 Unauthorized: the registry refused the credentials of user "researcher"/);
    expect(String(wrong)).not.toContain('nope');
    await expect(store.pull(`${reg.host}/lab/hello:v1`, { insecure: true })).rejects.toThrow(/401 Unauthorized: the registry requires credentials/);
    await expect(store.pull(`${reg.host}/lab/hello:v9`, { credentials: creds, insecure: true })).rejects.toThrow(/image lab\/hello:v9 not found in registry .* \(404 MANIFEST_UNKNOWN/);
    await expect(store.pull(`${reg.host}/lab/other:v1`, { credentials: creds, insecure: true })).rejects.toThrow(/not found in registry .*404/);
    // https against a plain-HTTP registry fails naming the registry, not a stack trace
    await expect(store.pull(`${reg.host}/lab/hello:v1`, { credentials: creds })).rejects.toThrow(/registry https:\/\/127\.0\.0\.1:\d+/);
  });

  describe.skipIf(noSandbox)('deployed from the registry', () => {
    let t: TestPlatform;
    beforeAll(async () => {
      t = await startTestPlatform();
    }, 120_000);
    afterAll(async () => {
      await t?.stop();
      if (t) await removeState(t.stateDir);
    });

    test('hivelab deploy --image HOST:PORT/NAME:TAG pulls with auth and the function serves', async () => {
      const ref = `${reg.host}/lab/hello:v1`;
      const bad = await hivelab(['deploy', '--image', ref, '--insecure', '--state', t.stateDir], { HIVELAB_REGISTRY_AUTH: 'researcher:wrong' });
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/401 Unauthorized/);
      expect(bad.stderr + bad.stdout).not.toContain('wrong');
      const missing = await hivelab(['deploy', '--image', `${reg.host}/lab/hello:nope`, '--insecure', '--registry-user', 'researcher', '--registry-password', 's3cret-pass', '--state', t.stateDir]);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toMatch(/image lab\/hello:nope not found in registry/);
      const ok = await hivelab(['deploy', '--image', ref, '--insecure', '--timeout', '120', '--state', t.stateDir], { HIVELAB_REGISTRY_AUTH: 'researcher:s3cret-pass' });
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/deployed hello \(version [0-9a-f]+, image sha256:/);
      expect(ok.stderr).not.toContain('s3cret');
      const r = await t.invoke('hello', undefined, { raw: '/app/from-registry /etc/shadow', contentType: 'text/plain' });
      expect(r.status, r.body.toString()).toBe(200);
      expect(r.json()).toMatchObject({ greeting: 'from-image', seen: ['/app/from-registry'] });
    }, 240_000);
  });
});

describe.skipIf(skip)('a registry with token auth (WWW-Authenticate: Bearer)', () => {
  let tokenReg: TestRegistry;
  let digest: string;
  beforeAll(async () => {
    tokenReg = await startRegistry(join(work, 'token-registry'), 'researcher', 's3cret-pass', 'token');
    digest = await pushImage(tokenReg, 'lab/hello', 'v1', blobs);
  }, 120_000);
  afterAll(async () => {
    await tokenReg?.stop();
  });

  test('the token flow: the realm is asked with Basic credentials for the pull scope, the token then pulls', async () => {
    const store = new ImageStore(join(work, 'store-token'));
    const rec = await store.pull(`${tokenReg.host}/lab/hello:v1`, { credentials: { username: 'researcher', password: 's3cret-pass' }, insecure: true });
    expect(rec.manifestDigest).toBe(digest);
    expect(tokenReg.tokenRequests!()).toContain('hivelab-test-registry repository:lab/hello:pull');
  });

  test('wrong credentials: the token service\'s 401 is named', async () => {
    const store = new ImageStore(join(work, 'store-token-bad'));
    const err = await store.pull(`${tokenReg.host}/lab/hello:v1`, { credentials: { username: 'researcher', password: 'wrong-one' }, insecure: true }).catch((e: Error) => e);
    expect(String(err)).toMatch(/401 Unauthorized: token endpoint http:\/\/127\.0\.0\.1:\d+\/token refused user "researcher" \(401/);
    expect(String(err)).not.toContain('wrong-one');
  });
});
