import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ImageStore } from '../../src/image/store.js';
import { imageSettings } from '../../src/image/image-config.js';
import { busyboxLayer, makeTar, serverConfig, sha, writeDockerArchive, writeOciArchive, writeOciLayout, type ImageSpec } from './image-builder.js';

// The image store against real files: each reference format, whiteouts, and hostile layers (which
// must be refused, or contained, without anything outside the store being touched).

let work: string;
let store: ImageStore;
const UID = 100_123;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'hivelab-images-'));
  store = new ImageStore(join(work, 'state', 'images'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function layout(name: string, spec: ImageSpec, tag = 'latest'): string {
  const dir = join(work, name);
  writeOciLayout(dir, spec, tag);
  return dir;
}

describe('reference formats', () => {
  const spec: ImageSpec = { layers: [busyboxLayer(), makeTar([{ name: 'app/extra', body: 'layer two' }])], config: serverConfig() };

  test('an OCI layout: pulled, verified, assembled with ownership mapped and mountpoints made', async () => {
    const events: string[] = [];
    const rec = await store.pull(`oci:${layout('layout', spec, 'v1')}:v1`, {}, (e) => events.push(e.type === 'layer' ? `layer-${e.state}` : e.type));
    expect(rec.diffIds).toHaveLength(2);
    // where it came from, as skopeo would name it (`hivelab export knative` prints how to push it)
    expect(rec.origin).toEqual({ transport: 'oci', path: join(work, 'layout'), tag: 'v1' });
    expect(rec.manifestDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(events).toEqual(['resolved', 'layer-pulling', 'layer-done', 'layer-pulling', 'layer-done']);
    const root = await store.rootfs(rec.id, UID, '/app');
    expect(root).toBe(join(work, 'state/images/rootfs', `${rec.id.slice(7)}-${UID}`));
    expect(readFileSync(join(root, 'app/extra'), 'utf8')).toBe('layer two');
    // the image user's 0600 file belongs to the function's uid; root's files stay root's
    expect(statSync(join(root, 'app/secret'))).toMatchObject({ uid: UID, gid: UID, mode: 0o100600 });
    expect(statSync(join(root, 'bin/busybox')).uid).toBe(0);
    // hard links of a layer stay links
    expect(statSync(join(root, 'bin/sh')).ino).toBe(statSync(join(root, 'bin/busybox')).ino);
    for (const m of ['opt/hivelab/runtime', 'opt/hivelab/node', 'run/hivelab', 'tmp', 'proc', 'dev']) expect(lstatSync(join(root, m)).isDirectory(), m).toBe(true);
    expect(readlinkSync(join(root, 'usr/bin'))).toBe('../bin');
    // a second pull of the same layers finds them in the cache
    const again: string[] = [];
    await store.pull(`oci:${join(work, 'layout')}:v1`, {}, (e) => e.type === 'layer' && again.push(e.state));
    expect(again).toEqual(['cached', 'cached']);
  });

  test('the config maps onto settings: Entrypoint+Cmd, Env, WorkingDir, User → HOME, first tcp port', async () => {
    const rec = await store.pull(layout('cfg', { ...spec, config: serverConfig({ ExposedPorts: { '53/udp': {}, '7000/tcp': {}, '7001/tcp': {} } }) }), {});
    const s = await imageSettings(store, rec);
    expect(s.command).toEqual(['/bin/sh', '-c', expect.stringContaining('nc -ll -p "$PORT"')]);
    expect(s.port).toBe(7000);
    expect(s.image).toMatchObject({ id: rec.id, workingDir: '/app', user: 'app', env: { GREETING: 'from-image', PATH: '/bin', HOME: '/home/app' } });
    expect(s.image).toMatchObject({ digest: rec.manifestDigest, origin: { transport: 'oci', path: join(work, 'cfg') } });
    const unknownUser = await store.pull(layout('cfg-user', { ...spec, config: serverConfig({ User: 'nobody-here' }) }), {});
    await expect(imageSettings(store, unknownUser)).rejects.toThrow(/User "nobody-here" is not in its \/etc\/passwd/);
    const nothing = await store.pull(layout('cfg-empty', { ...spec, config: { Env: ['A=1'] } }), {});
    await expect(imageSettings(store, nothing)).rejects.toThrow(/neither Entrypoint nor Cmd/);
  });

  test('an oci-archive, plain and gzip\'d, and a tag that is not there', async () => {
    const file = join(work, 'img.oci.tar');
    writeOciArchive(file, spec, 'v2');
    const rec = await store.pull(`oci-archive:${file}:v2`, {});
    expect(rec.diffIds).toEqual(spec.layers.map((l) => sha(l)));
    expect(rec.origin).toEqual({ transport: 'oci-archive', path: file, tag: 'v2' });
    writeFileSync(`${file}.gz`, gzipSync(readFileSync(file)));
    const gz = await store.pull(`${file}.gz`, {});
    expect(gz.id).toBe(rec.id);
    expect(gz.origin).toEqual({ transport: 'oci-archive', path: `${file}.gz` });
    await expect(store.pull(`oci-archive:${file}:nope`, {})).rejects.toThrow(/no image tagged "nope" \(tags: v2\)/);
  });

  test('a docker-archive (docker save), layers plain or gzip\'d', async () => {
    const file = join(work, 'img.docker.tar');
    const id = writeDockerArchive(file, spec, 'hello:1');
    const rec = await store.pull(`docker-archive:${file}`, {});
    expect(rec.id).toBe(id);
    expect(rec.manifestDigest).toBeUndefined();
    expect(rec.origin).toEqual({ transport: 'docker-archive', path: file });
    const root = await store.rootfs(rec.id, UID);
    expect(existsSync(join(root, 'bin/busybox'))).toBe(true);
    const gz = join(work, 'img-gz.docker.tar');
    writeDockerArchive(gz, { ...spec, layers: [busyboxLayer(), makeTar([{ name: 'other', body: 'x' }])] }, 'hello:2', true);
    const rec2 = await store.pull(gz, {}); // told apart by its manifest.json
    expect(existsSync(join(await store.rootfs(rec2.id, UID), 'other'))).toBe(true);
  });

  test('a missing file and a non-image file give clear errors', async () => {
    await expect(store.pull(join(work, 'nope.tar'), {})).rejects.toThrow(/no such file or folder/);
    writeFileSync(join(work, 'junk.tar'), 'not a tar at all'.repeat(64));
    await expect(store.pull(join(work, 'junk.tar'), {})).rejects.toThrow(/not a readable tar archive|not an OCI image layout/);
  });

  test('a layer whose bytes do not match its digest is refused and not cached', async () => {
    const dir = layout('corrupt', { layers: [makeTar([{ name: 'a', body: 'original' }])], config: { Cmd: ['/a'] } });
    const blobsDir = join(dir, 'blobs/sha256');
    const manifest = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')).manifests[0].digest.slice(7);
    const layerHex = JSON.parse(readFileSync(join(blobsDir, manifest), 'utf8')).layers[0].digest.slice(7);
    writeFileSync(join(blobsDir, layerHex), gzipSync(makeTar([{ name: 'a', body: 'tampered' }])));
    await expect(store.pull(dir, {})).rejects.toThrow(/layer 1: digest mismatch \(expected sha256:/);
    expect(existsSync(join(work, 'state/images/layers/sha256', sha(makeTar([{ name: 'a', body: 'original' }])).slice(7)))).toBe(false);
  });
});

describe('whiteouts', () => {
  test('.wh.NAME deletes, .wh..wh..opq hides the folder\'s lower contents, a folder replaces a lower symlink', async () => {
    const lower = makeTar([
      { name: 'a/', type: 'dir' },
      { name: 'a/x', body: 'x' },
      { name: 'a/y', body: 'y' },
      { name: 'b/', type: 'dir' },
      { name: 'b/old', body: 'old' },
      { name: 'c/', type: 'dir' },
      { name: 'c/keep', body: 'k' },
      { name: 'lnk', type: 'symlink', linkname: 'a' },
    ]);
    const upper = makeTar([
      { name: 'a/', type: 'dir' },
      { name: 'a/.wh.x', body: '' },
      { name: 'b/', type: 'dir' },
      { name: 'b/.wh..wh..opq', body: '' },
      { name: 'b/new', body: 'new' },
      { name: '.wh.c', body: '' },
      { name: 'lnk/', type: 'dir' },
      { name: 'lnk/inside', body: 'i' },
    ]);
    const rec = await store.pull(layout('wh', { layers: [lower, upper], config: { Cmd: ['/x'] } }), {});
    const root = await store.rootfs(rec.id, UID);
    expect(existsSync(join(root, 'a/x'))).toBe(false);
    expect(readFileSync(join(root, 'a/y'), 'utf8')).toBe('y');
    expect(existsSync(join(root, 'b/old'))).toBe(false);
    expect(readFileSync(join(root, 'b/new'), 'utf8')).toBe('new');
    expect(existsSync(join(root, 'c'))).toBe(false);
    expect(lstatSync(join(root, 'lnk')).isDirectory()).toBe(true);
    expect(existsSync(join(root, 'a/inside'))).toBe(false); // not written through the lower symlink
    expect(existsSync(join(root, 'a/.wh.x'))).toBe(false);
  });
});

describe('hostile layers', () => {
  let outside: string;
  beforeAll(() => {
    outside = join(work, 'outside');
    mkdirSync(outside, { recursive: true });
  });
  const pull = (name: string, items: Parameters<typeof makeTar>[0]) => store.pull(layout(name, { layers: [makeTar(items)], config: { Cmd: ['/x'] } }), {});

  test('a ../ name is refused', async () => {
    await expect(pull('h-dotdot', [{ name: '../../../../escaped', body: 'x' }])).rejects.toThrow(/layer 1 refused: entry "..\/..\/..\/..\/escaped" contains ".."/);
    await expect(pull('h-dotdot2', [{ name: 'a/../../escaped', body: 'x' }])).rejects.toThrow(/contains ".."/);
  });

  test('an absolute name is refused', async () => {
    await expect(pull('h-abs', [{ name: `${outside}/abs`, body: 'x' }])).rejects.toThrow(/is an absolute path/);
    expect(existsSync(join(outside, 'abs'))).toBe(false);
  });

  test('a symlink pointing out, then a file written through it: refused, nothing outside written', async () => {
    await expect(
      pull('h-symlink', [
        { name: 'evil', type: 'symlink', linkname: outside },
        { name: 'evil/pwned', body: 'x' },
      ]),
    ).rejects.toThrow(/passes through "evil", which is a symlink/);
    expect(existsSync(join(outside, 'pwned'))).toBe(false);
    // through a symlinked folder deeper down, and with a relative link climbing out
    await expect(
      pull('h-symlink2', [
        { name: 'd/', type: 'dir' },
        { name: 'd/up', type: 'symlink', linkname: '../../../../../../../..' + outside },
        { name: 'd/up/pwned2', body: 'x' },
      ]),
    ).rejects.toThrow(/which is a symlink/);
    expect(existsSync(join(outside, 'pwned2'))).toBe(false);
  });

  test('a symlink that points out is kept as a link (it resolves inside the sandbox root), never followed by assembly', async () => {
    const lower = makeTar([{ name: 'etc', type: 'symlink', linkname: outside }]);
    const upper = makeTar([{ name: 'etc/', type: 'dir' }, { name: 'etc/written', body: 'x' }]);
    const rec = await store.pull(layout('h-assembly', { layers: [lower, upper], config: { Cmd: ['/x'] } }), {});
    const root = await store.rootfs(rec.id, UID);
    expect(readFileSync(join(root, 'etc/written'), 'utf8')).toBe('x');
    expect(existsSync(join(outside, 'written'))).toBe(false);
    // alone in its layer, the outward link is stored as written
    const lone = await pull('h-lone', [{ name: 'shadow-link', type: 'symlink', linkname: '/etc/shadow' }]);
    expect(readlinkSync(join(await store.rootfs(lone.id, UID), 'shadow-link'))).toBe('/etc/shadow');
  });

  test('a hard link to /etc/shadow is refused, whichever way it is written', async () => {
    const shadowBefore = statSync('/etc/shadow');
    await expect(pull('h-hard-abs', [{ name: 'shadow', type: 'hardlink', linkname: '/etc/shadow' }])).rejects.toThrow(/is an absolute path/);
    await expect(pull('h-hard-up', [{ name: 'shadow', type: 'hardlink', linkname: '../../../../../../etc/shadow' }])).rejects.toThrow(/contains "\.\."/);
    await expect(pull('h-hard-missing', [{ name: 'shadow', type: 'hardlink', linkname: 'etc/shadow' }])).rejects.toThrow(/which this layer does not hold/);
    await expect(
      pull('h-hard-via-link', [
        { name: 'hostetc', type: 'symlink', linkname: '/etc' },
        { name: 'shadow', type: 'hardlink', linkname: 'hostetc/shadow' },
      ]),
    ).rejects.toThrow(/not a regular file of this layer/);
    expect(statSync('/etc/shadow').nlink).toBe(shadowBefore.nlink);
  });

  test('device nodes and FIFOs are skipped, setuid/setgid stripped', async () => {
    const events: number[] = [];
    const rec = await store.pull(
      layout('h-dev', {
        layers: [
          makeTar([
            { name: 'dev-mem', type: 'char' },
            { name: 'fifo', type: 'fifo' },
            { name: 'suid', body: '#!/bin/sh\n', mode: 0o6755 },
          ]),
        ],
        config: { Cmd: ['/x'] },
      }),
      {},
      (e) => e.type === 'layer' && e.state === 'done' && events.push(e.stats!.skipped),
    );
    expect(events).toEqual([2]);
    const root = await store.rootfs(rec.id, UID);
    expect(existsSync(join(root, 'dev-mem'))).toBe(false);
    expect(existsSync(join(root, 'fifo'))).toBe(false);
    expect(statSync(join(root, 'suid')).mode & 0o7777).toBe(0o755);
  });

  test('a failed layer leaves nothing in the cache or the work folder', async () => {
    const tmp = join(work, 'state/images/tmp');
    const layers = join(work, 'state/images/layers/sha256');
    await expect(pull('h-clean', [{ name: 'ok', body: 'x' }, { name: '/abs', body: 'x' }])).rejects.toThrow(/absolute/);
    expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
    expect(existsSync(join(layers, sha(makeTar([{ name: 'ok', body: 'x' }, { name: '/abs', body: 'x' }])).slice(7)))).toBe(false);
  });
});
