import { existsSync, lstatSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rootfsMountpoints, skeletonEntries, type SandboxLayout, type SystemRoot } from './launch.js';

/**
 * The host side of an instance's root: where the launcher binary is, the worker's skeleton folder
 * (empty mountpoints and the merged-/usr symlinks, made once and shared by every instance, since the
 * launcher only mounts over it and never writes into it), and the mountpoints an image's rootfs needs.
 */

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Built by scripts/setup-native.sh. */
export const SANDBOX_LAUNCHER = join(REPO_ROOT, 'native/sandbox/build/hivelab-sandbox');

/** Why instances cannot start here, or undefined. */
export function launcherUnavailableReason(path = SANDBOX_LAUNCHER): string | undefined {
  return existsSync(path) ? undefined : `the sandbox launcher ${path} is not built (run scripts/setup-native.sh)`;
}

function matches(path: string, e: SystemRoot): boolean {
  try {
    const st = lstatSync(path);
    return e.kind === 'dir' ? st.isDirectory() : st.isSymbolicLink() && readlinkSync(path) === e.target;
  } catch {
    return false;
  }
}

/**
 * Makes `rootDir` the layout's skeleton (root-owned, 0755) unless it already is one. Built beside it
 * and renamed into place, so a concurrent worker never sees half a skeleton; a stale or different
 * one is replaced.
 */
export function ensureSkeleton(rootDir: string, layout: SandboxLayout): string {
  const entries = skeletonEntries(layout);
  if (entries.every((e) => matches(join(rootDir, e.path), e))) return rootDir;
  const tmp = `${rootDir}.new-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true, mode: 0o755 });
  chmodSync(tmp, 0o755);
  for (const e of entries) {
    const p = join(tmp, e.path);
    mkdirSync(dirname(p), { recursive: true, mode: 0o755 });
    if (e.kind === 'dir') mkdirSync(p, { recursive: true, mode: 0o755 });
    else symlinkSync(e.target, p);
  }
  if (existsSync(rootDir)) rmSync(rootDir, { recursive: true, force: true });
  renameSync(tmp, rootDir);
  return rootDir;
}

/**
 * Creates the mountpoints the launcher needs in an image's unpacked rootfs (it creates nothing
 * there itself: the root may be shared and is mounted read-only). Call before the first start.
 */
export function prepareRootfs(rootfs: string, _layout?: SandboxLayout): void {
  for (const p of rootfsMountpoints()) {
    const target = join(rootfs, p);
    // a symlink planted by the image must not redirect our mkdir onto the host
    for (let d = target; d !== rootfs && d.startsWith(rootfs); d = dirname(d)) {
      try {
        if (lstatSync(d).isSymbolicLink()) throw new Error(`rootfs ${rootfs}: ${d.slice(rootfs.length)} is a symlink; the sandbox needs a real folder there`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    mkdirSync(target, { recursive: true, mode: 0o755 });
  }
}
