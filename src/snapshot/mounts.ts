import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, realpath, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * The mounts of a snapshot instance's sandbox as CRIU sees them (docs/SANDBOX.md has the layout).
 *
 * Every bind of a host folder into the sandbox is an *external* mount for CRIU: on dump it is
 * declared `--external mnt[<path inside>]:<name>` (CRIU then records only the name, not the host
 * path), and every restore maps each name to a host folder again, `--external mnt[<name>]:<host>`.
 * That is how each clone gets its own run folder (`run` → that clone's tmpfs) while sharing the
 * read-only ones (`/usr`, the function folder, the runtimes). The sandbox's own tmpfs mounts (/tmp,
 * /dev, /dev/shm) and its /proc are not external: CRIU saves their contents and recreates them
 * fresh for every clone. The root mount is never dumped: a restore supplies it with `--root`, a
 * read-only bind of the same skeleton folder (`ensureRestoreRoot`).
 */

export interface ExternalMount {
  /** CRIU's key for the mount: what a restore maps to a host folder. */
  name: string;
  /** Where the sandbox sees it. */
  target: string;
  /** Host folder bound there. */
  source: string;
}

/** A bind of the sandbox launcher's spec (src/sandbox/launch.ts `SandboxSpec.binds`). */
export interface SandboxBind {
  src: string;
  dst: string;
}

/** Pure: CRIU's name for the mount at `target` (`/run/hivelab` → `run-hivelab`). */
export function mountName(target: string): string {
  const name = target.replace(/^\/+|\/+$/g, '').replace(/[^A-Za-z0-9_.]+/g, '-');
  if (!name) throw new Error(`no external mount name for ${JSON.stringify(target)}`);
  return name;
}

/** Pure: the sandbox's binds as CRIU's external mounts. */
export function externalMounts(binds: SandboxBind[]): ExternalMount[] {
  return binds.map((b) => ({ name: mountName(b.dst), target: b.dst, source: b.src }));
}

/**
 * Pure: the host path behind a path as the sandbox sees it (through the longest bind that holds
 * it), or null when it lies on none of them (the skeleton root, or the sandbox's own tmpfs).
 */
export function hostPathOf(sandboxPath: string, mounts: ExternalMount[]): string | null {
  let best: ExternalMount | undefined;
  for (const m of mounts) {
    if ((sandboxPath === m.target || sandboxPath.startsWith(`${m.target}/`)) && (!best || m.target.length > best.target.length)) best = m;
  }
  return best ? best.source + sandboxPath.slice(best.target.length) : null;
}

/** The part of a mount a snapshot keeps (meta.json): its name and where the sandbox saw it. */
export type DumpedMount = Pick<ExternalMount, 'name' | 'target'>;

/** Pure: `criu dump` flags declaring the binds external. */
export function dumpMountArgs(mounts: DumpedMount[]): string[] {
  return mounts.flatMap((m) => ['--external', `mnt[${m.target}]:${m.name}`]);
}

/**
 * Pure: CRIU's `external` values for a restore, mapping every mount the snapshot declared to this
 * clone's host folder (`mnt[NAME]:HOST`). A mount of the image that the clone does not supply is
 * refused by name (CRIU would only say "no external mount for ..." deep in its log).
 */
export function restoreExternals(dumped: DumpedMount[], clone: ExternalMount[]): string[] {
  const byName = new Map(clone.map((m) => [m.name, m]));
  return dumped.map((d) => {
    const m = byName.get(d.name);
    if (!m) throw new Error(`the snapshot's mount ${d.target} (${d.name}) has no host folder for this clone`);
    return `mnt[${d.name}]:${m.source}`;
  });
}

const run = promisify(execFile);

/** Pure: where the restore bind of an image's assembled root (by its real path) lives in `dir`. */
export function imageRestoreRootPoint(dir: string, realRoot: string): string {
  return join(dir, `image-root-${createHash('sha256').update(realRoot).digest('hex').slice(0, 16)}.criu`);
}

/** Mount points in this mount namespace (mountinfo's field 5, with its octal escapes undone). */
async function mountPoints(): Promise<Set<string>> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  return new Set(mountinfo.split('\n').map((l) => (l.split(' ')[4] ?? '').replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))));
}

/**
 * Unmounts and removes the restore bind of an image's assembled root (before the root is deleted:
 * a bind of a deleted folder would outlive it). Returns the mount point, or null when the root had
 * none. Every bind stacked there goes (a worker re-made it after a root was replaced).
 */
export async function releaseImageRestoreRoot(dir: string, root: string): Promise<string | null> {
  const real = await realpath(root).catch(() => null);
  if (!real) return null;
  const point = imageRestoreRootPoint(dir, real);
  let released = false;
  for (let i = 0; i < 8 && (await mountPoints()).has(point); i++) {
    await run('umount', ['-l', point], { timeout: 10_000 });
    released = true;
  }
  await rmdir(point).catch(() => undefined);
  return released ? point : null;
}

/**
 * Unmounts the restore roots of image instances (`<dir>/image-root-*.criu`) whose assembled root was
 * deleted (mountinfo shows `//deleted`): their state folder is gone, so nothing restores from them.
 * Run at worker start; returns the mount points it released.
 */
export async function sweepDeletedImageRoots(dir: string): Promise<string[]> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const gone: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const root = f[3] ?? '';
    const point = (f[4] ?? '').replace(/\\040/g, ' ');
    if (point.startsWith(`${dir}/image-root-`) && point.endsWith('.criu') && root.endsWith('//deleted')) gone.push(point);
  }
  for (const p of gone) await run('umount', ['-l', p], { timeout: 10_000 }).catch(() => undefined);
  for (const p of gone) await rmdir(p).catch(() => undefined);
  return gone;
}

/**
 * The `--root` of every restore: CRIU wants a mount point and takes the restored root's content
 * from it. A read-only bind of the sandbox's skeleton folder at `<rootDir>.criu`, made once per
 * worker and shared by all clones (CRIU binds it into each clone's own mount namespace; 4.1.1 does
 * not re-apply the dumped root's `ro`, so the bind itself is read-only). Re-made when the skeleton
 * folder was replaced (the bind then shows another inode).
 */
export async function ensureRestoreRoot(rootDir: string, mountPoint = `${rootDir}.criu`): Promise<string> {
  const want = await stat(rootDir);
  const have = await stat(mountPoint).catch(() => null);
  if (have && have.dev === want.dev && have.ino === want.ino) return mountPoint;
  if (have) await run('umount', ['-l', mountPoint], { timeout: 10_000 }).catch(() => undefined);
  await mkdir(mountPoint, { recursive: true, mode: 0o755 });
  try {
    await run('mount', ['--bind', rootDir, mountPoint], { timeout: 10_000 });
    await run('mount', ['-o', 'remount,bind,ro,nosuid,nodev', mountPoint], { timeout: 10_000 });
  } catch (err) {
    throw new Error(`cannot make the restore root ${mountPoint}: ${((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`);
  }
  return mountPoint;
}
