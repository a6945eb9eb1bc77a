import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SandboxStartError } from '../../src/sandbox/backend.js';
import { encodeSandboxSpec, rootfsMountpoints, type SandboxSpec } from '../../src/sandbox/launch.js';
import { ProcessBackend } from '../../src/sandbox/process-backend.js';
import { SANDBOX_LAUNCHER, prepareRootfs } from '../../src/sandbox/root.js';
import { fixtureSpec, makeTempDir, removeDir } from './helpers.js';

// hivelab-sandbox itself: its failures are named, and an image rootfs boots without host folders.
let work: string;
beforeAll(() => {
  work = makeTempDir('launcher');
});
afterAll(() => removeDir(work));

/** Runs the launcher with `spec` on descriptor 3 (a file), returning its exit code and stderr. */
function launch(spec: Buffer): { status: number | null; stderr: string } {
  const file = join(work, `spec-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, spec, { mode: 0o600 });
  const r = spawnSync('/bin/sh', ['-c', `exec "$0" --spec-fd 3 3<"$1"`, SANDBOX_LAUNCHER, file], { env: {}, encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, stderr: r.stderr };
}

function baseSpec(over: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    cgroupProcsFiles: [],
    root: '/nonexistent',
    binds: [],
    tmpfs: [],
    shmBytes: 1 << 20,
    hostname: 't',
    uid: 100_000,
    gid: 100_000,
    rlimits: { nofile: 64, fsizeBytes: 1 << 20, core: 0 },
    cwd: '/',
    argv: ['/bin/true'],
    env: {},
    ...over,
  };
}

describe('hivelab-sandbox failures name their step', () => {
  test('usage: exit 2', () => {
    const r = spawnSync(SANDBOX_LAUNCHER, ['--bogus'], { env: {}, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/usage: hivelab-sandbox --spec-fd N/);
  });

  test('a malformed or incomplete spec: exit 110', () => {
    expect(launch(Buffer.from('4:root,'))).toMatchObject({ status: 110, stderr: expect.stringMatching(/bad spec: truncated spec/) });
    expect(launch(Buffer.from('3:foo,1:x,'))).toMatchObject({ status: 110, stderr: expect.stringMatching(/unknown key/) });
    const noUid = encodeSandboxSpec(baseSpec()).toString().replace(/3:uid,6:100000,/, '');
    expect(launch(Buffer.from(noUid))).toMatchObject({ status: 110, stderr: expect.stringMatching(/no uid/) });
    const rootUid = encodeSandboxSpec(baseSpec()).toString().replace(/3:uid,6:100000,/, '3:uid,1:0,');
    expect(launch(Buffer.from(rootUid))).toMatchObject({ status: 110, stderr: expect.stringMatching(/non-zero/) });
  });

  test('a cgroup that cannot be joined: exit 111 naming it', () => {
    const r = launch(encodeSandboxSpec(baseSpec({ cgroupProcsFiles: ['/sys/fs/cgroup/memory/no-such-group/cgroup.procs'] })));
    expect(r.status).toBe(111);
    expect(r.stderr).toContain('joining cgroup /sys/fs/cgroup/memory/no-such-group/cgroup.procs');
  });

  test('a root without a mountpoint, or with a symlink where one should be: exit 113 naming it', () => {
    const root = join(work, 'bare-root');
    mkdirSync(join(root, 'proc'), { recursive: true });
    let r = launch(encodeSandboxSpec(baseSpec({ root, tmpfs: [{ dst: '/tmp', sizeBytes: 1 << 20, mode: 0o1777 }] })));
    expect(r.status).toBe(113);
    expect(r.stderr).toContain(`mountpoint /tmp missing in root ${root}`);
    symlinkSync('/', join(root, 'tmp')); // an image pointing a mountpoint at the host's root
    r = launch(encodeSandboxSpec(baseSpec({ root, tmpfs: [{ dst: '/tmp', sizeBytes: 1 << 20, mode: 0o1777 }] })));
    expect(r.status).toBe(113);
    expect(r.stderr).toMatch(/mountpoint \/tmp in root .*no symlink/);
  });
});

describe('an image rootfs', () => {
  test('prepareRootfs makes the mountpoints and refuses a symlinked one', () => {
    const layout = new ProcessBackend().layout;
    const rootfs = join(work, 'img-prep');
    mkdirSync(join(rootfs, 'run'), { recursive: true });
    prepareRootfs(rootfs, layout);
    for (const p of rootfsMountpoints(layout)) expect(existsSync(join(rootfs, p)), p).toBe(true);
    const evil = join(work, 'img-evil');
    mkdirSync(evil);
    symlinkSync('/etc', join(evil, 'run'));
    expect(() => prepareRootfs(evil, layout)).toThrow(/\/run is a symlink/);
    expect(existsSync('/etc/hivelab')).toBe(false);
  });

  test('boots from the image alone: no host /usr or /etc inside', async () => {
    // a minimal image: dash and the C library it links, nothing else
    const rootfs = join(work, 'img');
    for (const f of ['/usr/bin/dash', realpathSync('/lib64/ld-linux-x86-64.so.2'), '/lib/x86_64-linux-gnu/libc.so.6']) {
      const target = join(rootfs, f.startsWith('/lib/') ? f.replace('/lib/', '/usr/lib/') : f);
      mkdirSync(join(target, '..'), { recursive: true });
      copyFileSync(f, target);
    }
    mkdirSync(join(rootfs, 'lib64'));
    copyFileSync(realpathSync('/lib64/ld-linux-x86-64.so.2'), join(rootfs, 'lib64/ld-linux-x86-64.so.2'));
    symlinkSync('usr/lib', join(rootfs, 'lib'));
    writeFileSync(join(rootfs, 'image-marker'), 'x');
    const backend = new ProcessBackend({
      nodeModulesDir: null,
      runtimeArgv: () => ['/usr/bin/dash', '-c', '[ -e /image-marker ] && [ ! -e /etc/passwd ] && [ ! -e /usr/bin/node ] && ! command -v cat && echo ready >&3; echo done'],
    });
    prepareRootfs(rootfs, backend.layout);
    const spec = { ...fixtureSpec('sandbox-node-hello', work), rootfs };
    const inst = await backend.start(spec).catch((err: SandboxStartError) => {
      throw new Error(`${err.message}\n${readFileSync(spec.logFile, 'utf8')}`);
    });
    const info = await inst.exited;
    expect(info.code).toBe(0);
    expect(readFileSync(spec.logFile, 'utf8')).toContain('done');
  });
});
