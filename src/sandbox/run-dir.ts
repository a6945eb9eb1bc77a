import { execFile } from 'node:child_process';
import { readFile, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SANDBOX_LAUNCHER } from './root.js';

/**
 * An instance's run folder on the host (`/run/hivelab` inside): a tmpfs of its own, size-limited,
 * nosuid, nodev, noexec, owned by the function's uid with mode 0700. A bind of host disk let a
 * function fill the disk and plant setuid-root files a local user could run. The worker mounts it
 * before the sidecar listens in it and unmounts it when the instance is gone.
 */

const run = promisify(execFile);

/** Room for the sockets and CRIU's work files of a restore (logs, lazy-pages socket): nothing large belongs here (uploads stream through sockets). */
export const RUN_DIR_BYTES = 16 * 1024 * 1024;

export async function mountRunDir(dir: string, uid: number, gid: number, bytes = RUN_DIR_BYTES, launcher = SANDBOX_LAUNCHER): Promise<void> {
  try {
    await run(launcher, ['--mount-run', dir, String(uid), String(gid), String(bytes)], { env: {}, timeout: 10_000 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`cannot mount the run folder ${dir}: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/** Detaches the tmpfs (whatever still holds it open) and removes the folder; idempotent. */
export async function unmountRunDir(dir: string, launcher = SANDBOX_LAUNCHER): Promise<void> {
  await run(launcher, ['--umount-run', dir], { env: {}, timeout: 10_000 }).catch(() => undefined);
  await rmdir(dir).catch(() => undefined);
}

/** Mountpoints below `root` in this process's mount namespace (octal escapes of mountinfo decoded). */
export async function mountsBelow(root: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return text
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p.startsWith(prefix));
}

/**
 * Unmounts run folders a killed worker left behind: mounted below `runRoot`, older than `minAgeMs`
 * (another worker's instance may be starting), and without a live instance (`isLive`).
 */
export async function sweepStaleRunDirs(runRoot: string, isLive: (instanceId: string) => Promise<boolean>, minAgeMs = 60_000): Promise<number> {
  let removed = 0;
  for (const dir of await mountsBelow(runRoot).catch(() => [])) {
    const id = dir.slice(runRoot.length).replace(/^\/+/, '');
    if (id.includes('/')) continue;
    try {
      if (Date.now() - (await stat(dir)).ctimeMs < minAgeMs) continue;
      if (await isLive(id)) continue;
      await unmountRunDir(dir);
      removed++;
    } catch {
      // gone meanwhile
    }
  }
  return removed;
}

/** True while an instance's memory cgroup still has tasks (how a sweep tells a live instance). */
export async function instanceCgroupLive(instanceId: string, cgroupRoot = '/sys/fs/cgroup'): Promise<boolean> {
  try {
    return (await readFile(join(cgroupRoot, 'memory/hivelab', instanceId, 'cgroup.procs'), 'utf8')).trim() !== '';
  } catch {
    return false;
  }
}
