import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { makeNetns, mountCloneTmpfs, mountRunDir, mountSharedDev, mountsBelow, sweepStaleRunDirs, unmountRunDir } from '../../src/sandbox/run-dir.js';

// The worker's run folders: real tmpfs mounts through hivelab-sandbox's mount helper (needs root).
const root = mkdtempSync(join(tmpdir(), 'hivelab-rundir-'));
afterAll(async () => {
  for (const d of await mountsBelow(root)) await unmountRunDir(d);
  rmSync(root, { recursive: true, force: true });
});

function mountLine(dir: string): string | undefined {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === dir);
}

describe('run folders', () => {
  test('a small tmpfs owned by the uid, 0700, nosuid/nodev/noexec; unmounted and removed again', async () => {
    const dir = join(root, 'inst-1');
    mkdirSync(dir);
    await mountRunDir(dir, 100_123, 100_123, 1024 * 1024);
    const st = statSync(dir);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([100_123, 100_123, 0o700]);
    const line = mountLine(dir)!;
    expect(line).toMatch(/ - tmpfs tmpfs .*size=1024k/);
    for (const f of ['nosuid', 'nodev', 'noexec']) expect(line.split(' ')[5]!.split(',')).toContain(f);
    expect(() => writeFileSync(join(dir, 'big'), Buffer.alloc(2 * 1024 * 1024))).toThrow(/ENOSPC/);
    await unmountRunDir(dir);
    expect(mountLine(dir)).toBeUndefined();
    expect(existsSync(dir)).toBe(false);
  });

  test('a bad request is an error naming the folder; many at once are answered in order', async () => {
    await expect(mountRunDir(join(root, 'missing', 'x'), 100_000, 100_000)).rejects.toThrow(/cannot mount the run folder .*missing/);
    await expect(mountRunDir(join(root, 'tab\there'), 100_000, 100_000)).rejects.toThrow(/tabs or newlines/);
    const dirs = [0, 1, 2, 3, 4, 5].map((i) => join(root, `many-${i}`));
    for (const d of dirs) mkdirSync(d);
    await Promise.all(dirs.map((d, i) => mountRunDir(d, 100_000 + i, 100_000 + i)));
    for (const [i, d] of dirs.entries()) expect(statSync(d).uid).toBe(100_000 + i);
    await Promise.all(dirs.map((d) => unmountRunDir(d)));
    expect(await mountsBelow(root)).toEqual([]);
  });

  test('the sweep unmounts what a killed worker left, but not a live instance\'s folder', async () => {
    const dead = join(root, 'dead-1');
    const live = join(root, 'live-1');
    for (const d of [dead, live]) {
      mkdirSync(d);
      await mountRunDir(d, 100_000, 100_000);
    }
    const removed = await sweepStaleRunDirs(root, async (id) => id === 'live-1', 0);
    expect(removed).toBe(1);
    expect(await mountsBelow(root)).toEqual([live]);
    // too young to judge: left alone
    expect(await sweepStaleRunDirs(root, async () => false, 60_000)).toBe(0);
    await unmountRunDir(live);
  });

  test("the sweep also unmounts a dead restored clone's /tmp and /dev/shm in its CRIU work folder, and nothing deeper", async () => {
    const tmp = join(root, 'gone-2.criu', 'tmp');
    const deeper = join(root, 'gone-3.criu', 'a', 'b');
    const notWork = join(root, 'plain-4', 'tmp');
    for (const d of [tmp, deeper, notWork]) await mountCloneTmpfs(d, 1 << 20, 0o1777, false);
    expect(await sweepStaleRunDirs(root, async () => false, 0)).toBe(1);
    expect((await mountsBelow(root)).sort()).toEqual([deeper, notWork].sort());
    for (const d of [deeper, notWork]) await unmountRunDir(d);
  });
});

describe("what a restored clone is handed ready-made", () => {
  test('its /tmp: a tmpfs of the given size and mode, nosuid and nodev, exec only when asked', async () => {
    const tmp = join(root, 'c1.criu', 'tmp');
    const shm = join(root, 'c1.criu', 'dev-shm');
    await mountCloneTmpfs(tmp, 2 << 20, 0o1777, true);
    await mountCloneTmpfs(shm, 1 << 20, 0o1777, false);
    expect(statSync(tmp).mode & 0o7777).toBe(0o1777);
    expect(statSync(tmp).uid).toBe(0);
    expect(mountLine(tmp)!.split(' ')[5]!.split(',')).toEqual(expect.arrayContaining(['nosuid', 'nodev']));
    expect(mountLine(tmp)!.split(' ')[5]!.split(',')).not.toContain('noexec');
    expect(mountLine(shm)!.split(' ')[5]!.split(',')).toContain('noexec');
    expect(() => writeFileSync(join(shm, 'big'), Buffer.alloc(2 << 20))).toThrow(/ENOSPC/);
    await expect(mountCloneTmpfs(join(root, 'c1.criu', 'x'), 1 << 20, 0o1777 + 0o10000, false)).rejects.toThrow(/cannot mount .*bad numbers/);
    for (const d of [tmp, shm]) await unmountRunDir(d);
    expect(mountLine(tmp)).toBeUndefined();
  });

  test("the shared /dev: the sandbox's nodes and links, an empty shm/, read-only, and its nodes work", async () => {
    const dev = join(root, 'shared.dev');
    await mountSharedDev(dev);
    expect(readdirSync(dev).sort()).toEqual(['fd', 'full', 'null', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']);
    expect(lstatSync(join(dev, 'null')).isCharacterDevice()).toBe(true);
    expect(readlinkSync(join(dev, 'fd'))).toBe('/proc/self/fd');
    const opts = mountLine(dev)!.split(' ')[5]!.split(',');
    expect(opts).toEqual(expect.arrayContaining(['ro', 'nosuid', 'noexec']));
    expect(opts).not.toContain('nodev');
    expect(() => writeFileSync(join(dev, 'planted'), 'x')).toThrow(/EROFS/);
    writeFileSync(join(dev, 'null'), 'into the void'); // a device node on a read-only mount still works
    const zero = openSync(join(dev, 'zero'), 'r');
    const buf = Buffer.alloc(16, 1);
    expect(readSync(zero, buf)).toBe(16);
    closeSync(zero);
    expect(buf.every((b) => b === 0)).toBe(true);
    await unmountRunDir(dev);
  });

  test('a network namespace: its own, loopback up, nothing else; the holder process is gone', async () => {
    const fd = await makeNetns();
    try {
      const own = statSync('/proc/self/ns/net').ino;
      expect(statSync(`/proc/self/fd/${fd}`).ino).not.toBe(own);
      const links = execFileSync('nsenter', [`--net=/proc/${process.pid}/fd/${fd}`, 'ip', '-o', 'link'], { encoding: 'utf8' }).trim().split('\n');
      expect(links).toHaveLength(1);
      expect(links[0]).toMatch(/^1: lo: <LOOPBACK,UP,LOWER_UP>/);
      // no process is in it: the mounter's holder was released, only the descriptor keeps it
      const ino = statSync(`/proc/self/fd/${fd}`).ino;
      const inside = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && (() => {
        try {
          return statSync(`/proc/${p}/ns/net`).ino === ino;
        } catch {
          return false;
        }
      })());
      expect(inside).toEqual([]);
    } finally {
      closeSync(fd);
    }
  });
});
