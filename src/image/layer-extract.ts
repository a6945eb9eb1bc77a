import { constants } from 'node:fs';
import { lchown, link, lstat, mkdir, open, rm, symlink, chmod, chown, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { HostileLayerError, entryComponents } from './entry-name.js';
import type { TarEntry } from './tar-stream.js';
import { UnpackBudget } from './unpack-limits.js';

/**
 * Unpacks one layer's tar entries into an empty folder of the layer cache, as untrusted input:
 *   - `..` components and absolute names are refused (the whole layer fails);
 *   - nothing is ever created through a symlink: every parent of an entry must be a real folder of
 *     the layer itself (a layer that plants `x -> /etc` and then writes `x/passwd` is refused);
 *   - a hard link must name a regular file this layer already holds (a link to /etc/shadow,
 *     absolute or via `..`, is refused: the host file is never reached);
 *   - device nodes and FIFOs are skipped; setuid/setgid bits are stripped;
 *   - whiteouts (`.wh.NAME`, `.wh..wh..opq`) are kept as the empty files they are, for the rootfs
 *     assembly (rootfs-assemble.ts) to apply against the layers below;
 *   - ownership is kept as the layer's numbers (the cache is root's); assembly maps it.
 * Files are opened O_CREAT|O_EXCL|O_NOFOLLOW after whatever was at the path is removed.
 * The image's budget (unpack-limits.ts) is charged before anything is made: an entry before it is
 * created, a file's declared size before it is opened and each chunk before it is written, so a
 * gzip or inode bomb stops at the limit (the caller then deletes the half-made layer).
 */

export interface ExtractStats {
  entries: number;
  bytes: number;
  /** Device nodes, FIFOs and unknown entry types left out. */
  skipped: number;
}

/** Permission bits kept: rwx for all and the sticky bit; never setuid or setgid. */
const MODE_MASK = 0o1777;

/** lstat, or null for a path that is not there (any other error stands). */
export async function lstatOrNull(p: string) {
  try {
    return await lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Makes every parent of `parts` a real folder under `root`, refusing to pass through anything else. */
async function realParents(root: string, parts: string[], name: string): Promise<string> {
  let dir = root;
  for (const p of parts.slice(0, -1)) {
    dir = join(dir, p);
    const st = await lstatOrNull(dir);
    if (st === null) await mkdir(dir, { mode: 0o755 });
    else if (!st.isDirectory()) {
      throw new HostileLayerError(`entry ${JSON.stringify(name)} passes through ${JSON.stringify(dir.slice(root.length + 1))}, which is ${st.isSymbolicLink() ? 'a symlink' : 'not a folder'}`);
    }
  }
  return join(root, ...parts);
}

/** Removes whatever is at `path` (never following it). */
async function clear(path: string, keepDir = false): Promise<void> {
  const st = await lstatOrNull(path);
  if (st === null) return;
  if (st.isDirectory()) {
    if (!keepDir) await rm(path, { recursive: true, force: true });
  } else await unlink(path);
}

export async function extractLayer(entries: AsyncIterable<TarEntry>, dest: string, budget = new UnpackBudget()): Promise<ExtractStats> {
  const stats: ExtractStats = { entries: 0, bytes: 0, skipped: 0 };
  for await (const entry of entries) {
    const h = entry.header;
    budget.chargeEntries();
    stats.entries++;
    const parts = entryComponents(h.name);
    if (parts === null) continue; // the layer's own root folder
    if (h.type === 'char' || h.type === 'block' || h.type === 'fifo' || h.type === 'other') {
      stats.skipped++;
      continue;
    }
    const path = await realParents(dest, parts, h.name);
    const mode = h.mode & MODE_MASK;
    switch (h.type) {
      case 'dir': {
        await clear(path, true);
        if ((await lstatOrNull(path)) === null) await mkdir(path, { mode });
        await chmod(path, mode);
        await chown(path, h.uid, h.gid);
        break;
      }
      case 'file': {
        budget.checkBytes(h.size); // a header that already says too much fails before anything is opened
        await clear(path);
        const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of entry.body()) {
            budget.chargeBytes(chunk.length);
            await fh.write(chunk);
            stats.bytes += chunk.length;
          }
          await fh.chown(h.uid, h.gid);
          await fh.chmod(mode);
        } finally {
          await fh.close();
        }
        break;
      }
      case 'symlink': {
        // stored as written: it is never followed here, and inside the sandbox it resolves in the image's own root
        await clear(path);
        await symlink(h.linkname, path);
        await lchown(path, h.uid, h.gid);
        break;
      }
      case 'hardlink': {
        const targetParts = entryComponents(h.linkname, `hard link target of ${JSON.stringify(h.name)}`);
        if (targetParts === null) throw new HostileLayerError(`hard link ${JSON.stringify(h.name)} points at the layer's root`);
        let target = dest;
        for (const [i, p] of targetParts.entries()) {
          target = join(target, p);
          const st = await lstatOrNull(target);
          const last = i === targetParts.length - 1;
          if (st === null) throw new HostileLayerError(`hard link ${JSON.stringify(h.name)} names ${JSON.stringify(h.linkname)}, which this layer does not hold`);
          if (last ? !st.isFile() : !st.isDirectory()) {
            throw new HostileLayerError(`hard link ${JSON.stringify(h.name)} names ${JSON.stringify(h.linkname)}, which is not a regular file of this layer`);
          }
        }
        if (target === path) break;
        await clear(path);
        await link(target, path);
        break;
      }
      default:
        stats.skipped++;
    }
  }
  return stats;
}
