import { constants } from 'node:fs';
import { chmod, chown, copyFile, lchown, link, lstat, mkdir, readdir, readlink, rm, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { lstatOrNull } from './layer-extract.js';

/**
 * Lays extracted layers (layer-extract.ts) one over the other into an image's root filesystem, as
 * overlayfs would show them, honouring whiteouts: `.wh.NAME` deletes NAME from the layers below,
 * `.wh..wh..opq` in a folder hides everything the layers below had in it. A later layer's folder
 * replaces a lower non-folder (a symlink `bin -> usr/bin` is replaced, never followed), and a later
 * file replaces whatever was at its path: every path is removed before it is created, so nothing
 * is ever written through a link.
 *
 * Ownership: files owned by root in the image stay root's; every other owner (typically the image's
 * User) becomes the function's own uid/gid, the only unprivileged identity the sandbox runs as. The
 * root is mounted read-only, so this grants reading, not writing.
 */

export const WHITEOUT = '.wh.';
export const OPAQUE = '.wh..wh..opq';

export interface Ownership {
  uid: number;
  gid: number;
}


async function removeAny(p: string): Promise<void> {
  const st = await lstatOrNull(p);
  if (!st) return;
  if (st.isDirectory()) await rm(p, { recursive: true, force: true });
  else await unlink(p);
}

export async function applyLayer(layerDir: string, rootfs: string, owner: Ownership): Promise<void> {
  const map = (uid: number, gid: number): [number, number] => [uid === 0 ? 0 : owner.uid, gid === 0 ? 0 : owner.gid];
  // hard links inside a layer stay links in the rootfs (same inode → first path made)
  const linked = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    const src = join(layerDir, rel);
    const dst = join(rootfs, rel);
    const names = (await readdir(src)).sort();
    if (names.includes(OPAQUE)) {
      for (const lower of await readdir(dst)) await removeAny(join(dst, lower));
    }
    for (const name of names) {
      if (name === OPAQUE) continue;
      if (name.startsWith(WHITEOUT)) {
        const hidden = name.slice(WHITEOUT.length);
        if (hidden && hidden !== '.' && hidden !== '..') await removeAny(join(dst, hidden));
        continue;
      }
      const s = join(src, name);
      const d = join(dst, name);
      const st = await lstat(s);
      const [uid, gid] = map(st.uid, st.gid);
      if (st.isDirectory()) {
        const have = await lstatOrNull(d);
        if (!have?.isDirectory()) {
          if (have) await unlink(d);
          await mkdir(d);
        }
        await chown(d, uid, gid);
        await chmod(d, st.mode & 0o1777);
        await walk(join(rel, name));
      } else if (st.isSymbolicLink()) {
        await removeAny(d);
        await symlink(await readlink(s), d);
        await lchown(d, uid, gid);
      } else if (st.isFile()) {
        await removeAny(d);
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? linked.get(key) : undefined;
        if (first) {
          await link(first, d);
          continue;
        }
        await copyFile(s, d, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
        await chown(d, uid, gid);
        await chmod(d, st.mode & 0o1777);
        if (st.nlink > 1) linked.set(key, d);
      }
    }
  };
  await walk('');
}

/** Makes `dir` inside the rootfs (the image's WorkingDir) unless it exists, never passing a symlink. */
export async function ensureFolder(rootfs: string, dir: string): Promise<void> {
  let at = rootfs;
  for (const p of dir.split('/').filter((x) => x && x !== '.')) {
    if (p === '..') return;
    at = join(at, p);
    const st = await lstatOrNull(at);
    if (st === null) await mkdir(at, { mode: 0o755 });
    else if (!st.isDirectory()) return; // a link: it resolves inside the sandbox's own root at run time
  }
}
