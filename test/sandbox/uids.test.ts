import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { SANDBOX_UID_BASE } from '../../src/sandbox/launch.js';
import { SandboxUids } from '../../src/sandbox/uids.js';

const dir = mkdtempSync(join(tmpdir(), 'hivelab-uids-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('one sandbox uid per function', () => {
  test('distinct per function, stable per function, kept across restarts (a new allocator on the same folder)', async () => {
    const a = new SandboxUids(join(dir, 'one'));
    const hello = await a.uidFor('hello');
    const other = await a.uidFor('other');
    expect(hello).toBe(SANDBOX_UID_BASE);
    expect(other).toBe(SANDBOX_UID_BASE + 1);
    expect(await a.uidFor('hello')).toBe(hello);
    const restarted = new SandboxUids(join(dir, 'one'));
    expect(await restarted.uidFor('other')).toBe(other);
    expect(await restarted.uidFor('third')).toBe(SANDBOX_UID_BASE + 2);
    expect(readFileSync(join(dir, 'one', String(hello)), 'utf8')).toBe('hello');
  });

  test('workers sharing the state folder, allocating at once, agree and never share a uid between functions', async () => {
    const folder = join(dir, 'shared');
    const workers = [0, 1, 2, 3].map(() => new SandboxUids(folder));
    const names = ['a', 'b', 'c', 'd', 'e'];
    const got = await Promise.all(workers.flatMap((w) => names.map(async (n) => [n, await w.uidFor(n)] as const)));
    const byName = new Map<string, Set<number>>();
    for (const [n, uid] of got) (byName.get(n) ?? byName.set(n, new Set()).get(n)!).add(uid);
    // each function: one uid, whichever worker asked
    for (const n of names) expect(byName.get(n)!.size, n).toBe(1);
    const uids = names.map((n) => [...byName.get(n)!][0]!);
    expect(new Set(uids).size).toBe(names.length);
    // what a fresh worker reads back is the same
    const fresh = new SandboxUids(folder);
    for (const n of names) expect(await fresh.uidFor(n)).toBe([...byName.get(n)!][0]);
    expect(readdirSync(folder).length).toBeGreaterThanOrEqual(names.length);
  });

  test('an exhausted range is an error naming it', async () => {
    const small = new SandboxUids(join(dir, 'small'), 200_000, 200_002);
    await small.uidFor('x');
    await small.uidFor('y');
    await expect(small.uidFor('z')).rejects.toThrow(/no sandbox uid left in \[200000, 200002\)/);
  });
});
