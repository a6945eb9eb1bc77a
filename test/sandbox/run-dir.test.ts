import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { mountRunDir, mountsBelow, sweepStaleRunDirs, unmountRunDir } from '../../src/sandbox/run-dir.js';

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
});
