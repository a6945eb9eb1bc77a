import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ImageError } from '../../src/image/image-source.js';
import { ImageStore } from '../../src/image/store.js';
import { MiB, unpackLimits } from '../../src/image/unpack-limits.js';
import { launcherUnavailableReason } from '../../src/sandbox/root.js';
import { removeState, startTestPlatform, type TestPlatform } from '../platform/harness.js';
import { hivelab } from './cli.js';
import { busyboxLayer, makeTar, ociBlobs, serverConfig, sha, writeOciLayout, type TarItem } from './image-builder.js';

// What an image may unpack: gzip bombs (one big file, many files, a gzip'd archive) and an inode
// bomb, made by the test, are refused at the limit with an error naming the layer and the limit,
// and leave nothing in the store; a good image still pulls (and deploys) afterwards.

let work: string;
let store: ImageStore;
const images = () => join(work, 'state', 'images');

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'hivelab-image-limits-'));
  store = new ImageStore(images());
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function layout(name: string, layers: Buffer[]): string {
  const dir = join(work, name);
  writeOciLayout(dir, { layers, config: { Cmd: ['/x'] } });
  return dir;
}

/** Nothing half-made: the work folder is empty and only the named layers (with their size files) are cached. */
function expectStoreHolds(diffIds: string[]): void {
  expect(readdirSync(join(images(), 'tmp'))).toEqual([]);
  const want = diffIds.flatMap((d) => [d.slice(7), `${d.slice(7)}.json`]).sort();
  expect(readdirSync(join(images(), 'layers/sha256')).sort()).toEqual(want);
}

const zeros = (mb: number) => Buffer.alloc(mb * MiB);

describe('unpack limits', () => {
  test('the limits parse: defaults 8 GiB and 1,000,000 entries; a non-positive value is refused', () => {
    expect(unpackLimits()).toEqual({ maxBytes: 8192 * MiB, maxEntries: 1_000_000 });
    expect(unpackLimits({ maxMB: 2, maxEntries: 10 })).toEqual({ maxBytes: 2 * MiB, maxEntries: 10 });
    expect(() => unpackLimits({ maxMB: 0 })).toThrow(/positive/);
    expect(() => unpackLimits({ maxEntries: Number.NaN })).toThrow(/positive/);
  });

  test('a gzip bomb (one file of zeros, a few KB of gzip) is refused at the limit, naming the layer and the limit', async () => {
    const bomb = makeTar([{ name: 'zeros', body: zeros(24) }]);
    const gz = ociBlobs({ layers: [bomb] }).layers[0]!.bytes;
    expect(gz.length).toBeLessThan(64 * 1024); // a few KB that would unpack to 24 MB
    const good = makeTar([{ name: 'small', body: 'ok' }]);
    const err = await store.pull(layout('bomb', [good, bomb]), { limits: unpackLimits({ maxMB: 4 }) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).status).toBe(413);
    expect((err as Error).message).toMatch(new RegExp(`layer 2 \\(${sha(bomb).slice(0, 19)}…\\) refused: the image would unpack more than 4 MB \\(the limit; --max-image-mb\\)`));
    // the good first layer the refused pull made is gone too: no image names it
    expectStoreHolds([]);
    expect(readdirSync(join(images(), 'images/sha256'))).toEqual([]);
  });

  test('many files each under the limit: unpacking stops at the first file over the running total', async () => {
    const items: TarItem[] = Array.from({ length: 12 }, (_, i) => ({ name: `f${String(i).padStart(2, '0')}`, body: zeros(1) }));
    let pulling = 0;
    const err = await store
      .pull(layout('many', [makeTar(items)]), { limits: unpackLimits({ maxMB: 3.5 }) }, (e) => e.type === 'layer' && e.state === 'pulling' && pulling++)
      .catch((e: unknown) => e);
    expect(pulling).toBe(1);
    expect((err as Error).message).toMatch(/layer 1 \(sha256:[0-9a-f]{12}…\) refused: the image would unpack more than 3\.5 MB/);
    expectStoreHolds([]);
  });

  test('the limit is per image, over all its layers: three 2 MB layers pass 5 MB in the third', async () => {
    const layers = [0, 1, 2].map((i) => makeTar([{ name: `l${i}`, body: zeros(2) }]));
    const err = await store.pull(layout('sum', layers), { limits: unpackLimits({ maxMB: 5 }) }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/layer 3 .* refused: the image would unpack more than 5 MB/);
    expectStoreHolds([]);
    // cached layers count too: with the first two cached by an image that fits, the same image still does not
    const small = await store.pull(layout('two', layers.slice(0, 2)), { limits: unpackLimits({ maxMB: 5 }) });
    const again = await store.pull(layout('sum', layers), { limits: unpackLimits({ maxMB: 5 }) }).catch((e: unknown) => e);
    expect((again as Error).message).toMatch(/layer 3 .* refused/);
    expectStoreHolds(small.diffIds);
    const cachedTooBig = await store.pull(layout('sum', layers), { limits: unpackLimits({ maxMB: 3 }) }).catch((e: unknown) => e);
    expect((cachedTooBig as Error).message).toMatch(/layer 2 .* refused: the image would unpack more than 3 MB/);
    expectStoreHolds(small.diffIds); // a cached layer an image names is never dropped by another's failure
  });

  test('a layer whose tar stream runs on past what its limits allow (zeros after the end marker) is cut off too', async () => {
    const padded = Buffer.concat([makeTar([{ name: 'tiny', body: 't' }]), zeros(40)]);
    const err = await store.pull(layout('padded', [padded]), { limits: unpackLimits({ maxMB: 1, maxEntries: 10 }) }).catch((e: unknown) => e);
    expect((err as ImageError).status).toBe(413);
    expect((err as Error).message).toMatch(/layer 1 \(sha256:[0-9a-f]{12}…\) refused: the image would unpack more than 1 MB/);
    expectStoreHolds((await store.records()).flatMap((r) => r.diffIds));
  });

  test('an entry bomb (many empty files) is refused at the entry limit', async () => {
    const items: TarItem[] = Array.from({ length: 3000 }, (_, i) => ({ name: `e/${i}`, body: '' }));
    const err = await store.pull(layout('inodes', [makeTar([{ name: 'e/', type: 'dir' }, ...items])]), { limits: unpackLimits({ maxEntries: 1000 }) }).catch((e: unknown) => e);
    expect((err as ImageError).status).toBe(413);
    expect((err as Error).message).toMatch(/layer 1 \(sha256:[0-9a-f]{12}…\) refused: the image would unpack more than 1000 entries \(the limit; --max-image-entries\)/);
    expectStoreHolds((await store.records()).flatMap((r) => r.diffIds));
  });

  test('a gzip\'d archive that decompresses past the limit is refused before any layer is read', async () => {
    const dir = join(work, 'archive-bomb');
    writeOciLayout(dir, { layers: [makeTar([{ name: 'x', body: 'x' }])], config: { Cmd: ['/x'] } });
    writeFileSync(join(dir, 'padding'), zeros(16));
    const file = join(work, 'bomb.oci.tar.gz');
    execFileSync('tar', ['-czf', file, '-C', dir, '.'], { timeout: 60_000 });
    expect(statSync(file).size).toBeLessThan(256 * 1024);
    const before = (await store.records()).flatMap((r) => r.diffIds);
    const err = await store.pull(file, { limits: unpackLimits({ maxMB: 4 }) }).catch((e: unknown) => e);
    expect((err as ImageError).status).toBe(413);
    expect((err as Error).message).toMatch(/the gzip'd archive decompresses to more than 4 MB \(the image size limit; --max-image-mb\)/);
    expectStoreHolds(before);
    // under a limit it fits, the same archive is an image
    expect((await store.pull(file, { limits: unpackLimits({ maxMB: 64 }) })).diffIds).toHaveLength(1);
  });

  test('after the bombs a good image pulls and assembles', async () => {
    const rec = await store.pull(layout('good', [busyboxLayer()]), { limits: unpackLimits({ maxMB: 8 }) });
    expect(existsSync(join(await store.rootfs(rec.id, 100_321), 'bin/busybox'))).toBe(true);
    expect(readdirSync(join(images(), 'tmp'))).toEqual([]);
  });
});

const skip = launcherUnavailableReason() ?? (existsSync('/bin/busybox') ? undefined : 'busybox-static is not installed');

describe.skipIf(skip)('hivelab deploy --image --max-image-mb', () => {
  let t: TestPlatform;
  beforeAll(async () => {
    t = await startTestPlatform();
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    if (t) await removeState(t.stateDir);
  });

  test('a bomb fails the deploy (exit 5, the message), leaves nothing, and a good image deploys after it', async () => {
    const bombDir = join(work, 'cli-bomb');
    writeOciLayout(bombDir, { layers: [busyboxLayer(), makeTar([{ name: 'zeros', body: zeros(24) }])], config: serverConfig() });
    const d = await hivelab(['deploy', '--image', bombDir, '--name', 'bomb', '--max-image-mb', '16', '--state', t.stateDir]);
    expect(d.code, d.stderr).toBe(5);
    expect(d.stderr).toMatch(/cannot deploy image .*: .*layer 2 \(sha256:[0-9a-f]{12}…\) refused: the image would unpack more than 16 MB \(the limit; --max-image-mb\)/);
    const storeDir = join(t.stateDir, 'images');
    expect(readdirSync(join(storeDir, 'tmp'))).toEqual([]);
    expect(readdirSync(join(storeDir, 'layers/sha256'))).toEqual([]);
    expect(readdirSync(join(storeDir, 'images/sha256'))).toEqual([]);
    expect((await t.api('GET', '/v1/functions/bomb')).status).toBe(404);

    const bad = await hivelab(['deploy', '--image', bombDir, '--max-image-mb', 'lots', '--state', t.stateDir]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--max-image-mb must be a positive number, got "lots"/);

    const goodDir = join(work, 'cli-good');
    writeOciLayout(goodDir, { layers: [busyboxLayer()], config: serverConfig() });
    const ok = await hivelab(['deploy', '--image', goodDir, '--name', 'fits', '--max-image-mb', '16', '--memory', '128', '--state', t.stateDir]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/deployed fits/);
    const r = await t.invoke('fits', undefined, { raw: Buffer.from('/'), contentType: 'text/plain' });
    expect(r.status, r.body.toString()).toBe(200);
  }, 240_000);
});
