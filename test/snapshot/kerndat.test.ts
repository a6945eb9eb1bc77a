/**
 * CRIU's kerndat cache: our build keeps it in /dev/shm/hivelab-criu (this machine's /run is not a
 * tmpfs), and that folder must be root's own, never one planted in world-writable /dev/shm.
 */
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { criuBinary, criuUnavailableReason, ensureKerndatDir, KERNDAT_DIR } from '../../src/snapshot/criu.js';

const root = mkdtempSync(join(tmpdir(), 'hivelab-kerndat-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const mode = (p: string) => lstatSync(p).mode & 0o777;
const asideOf = (dir: string) => readdirSync(root).filter((f) => f.startsWith(`${dir.split('/').pop()}.untrusted-`));

describe.skipIf(process.getuid?.() !== 0)('the kerndat folder', () => {
  it('is made when missing, as a 0700 directory', () => {
    const dir = join(root, 'a');
    ensureKerndatDir(dir);
    expect(lstatSync(dir).isDirectory()).toBe(true);
    expect(mode(dir)).toBe(0o700);
  });

  it('is left alone when it is already ours', () => {
    const dir = join(root, 'b');
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 'criu.kdat'), 'cache');
    ensureKerndatDir(dir);
    expect(existsSync(join(dir, 'criu.kdat'))).toBe(true);
    expect(asideOf(dir)).toEqual([]);
  });

  it('one others may write to, or a link, is moved aside and made afresh', () => {
    const open = join(root, 'c');
    mkdirSync(open);
    chmodSync(open, 0o777);
    writeFileSync(join(open, 'criu.kdat'), 'forged');
    ensureKerndatDir(open);
    expect(mode(open)).toBe(0o700);
    expect(existsSync(join(open, 'criu.kdat'))).toBe(false);
    expect(asideOf(open)).toHaveLength(1);

    const target = join(root, 'elsewhere');
    mkdirSync(target, { mode: 0o700 });
    const link = join(root, 'd');
    symlinkSync(target, link);
    ensureKerndatDir(link);
    expect(lstatSync(link).isDirectory()).toBe(true); // a real folder now, not the link
    expect(asideOf(link)).toHaveLength(1);
    expect(lstatSync(target).isDirectory()).toBe(true); // the link's target is untouched
  });
});

describe.skipIf(criuUnavailableReason() !== null)('our CRIU build', () => {
  it('keeps its kerndat cache in the folder, so later runs skip the kernel probing', async () => {
    const run = promisify(execFile);
    await run(criuBinary(), ['check']);
    expect(existsSync(join(KERNDAT_DIR, 'criu.kdat'))).toBe(true);
    const { stdout, stderr } = await run(criuBinary(), ['check', '-v4', '-o', '-']);
    expect(`${stdout}${stderr}`).toContain(`Loaded kdat cache from ${KERNDAT_DIR}/criu.kdat`);
  });
});
