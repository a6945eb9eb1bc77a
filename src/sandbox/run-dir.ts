import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir, readFile, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SANDBOX_LAUNCHER } from './root.js';

/**
 * An instance's run folder on the host (`/run/hivelab` inside): a tmpfs of its own, size-limited,
 * nosuid, nodev, noexec, owned by the function's uid with mode 0700. A bind of host disk let a
 * function fill the disk and plant setuid-root files a local user could run. The worker mounts it
 * before the sidecar listens in it and unmounts it when the instance is gone.
 */

/**
 * The worker's mounter: one `hivelab-sandbox --run-dir-server` per launcher path, spawned on first
 * use and asked one line per mount. Spawning a mount helper per start cost 5–40 ms (a fork of the
 * whole worker, more under load); a line over a pipe costs microseconds. Requests are answered in
 * order; a server that died is replaced on the next request.
 */
class RunDirMounter {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly waiting: ((answer: string) => void)[] = [];

  constructor(private readonly launcher: string) {}

  private server(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = spawn(this.launcher, ['--run-dir-server'], { env: {}, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-1000)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      this.waiting.shift()?.(line);
      if (this.waiting.length === 0) this.hold(child, false);
    });
    const gone = () => {
      if (this.child === child) this.child = undefined;
      for (const w of this.waiting.splice(0)) w(`error the mount helper ${this.launcher} exited ${stderr.trim()}`);
    };
    child.once('exit', gone);
    child.once('error', gone);
    child.stdin.on('error', () => undefined);
    this.hold(child, false);
    return child;
  }

  /** An idle mounter must not keep its process alive; one with a request out must (for the answer). */
  private hold(child: ChildProcessWithoutNullStreams, on: boolean): void {
    for (const h of [child, child.stdin, child.stdout, child.stderr] as unknown as { ref(): void; unref(): void }[]) {
      if (on) h.ref();
      else h.unref();
    }
  }

  /** One request; resolves with what follows "ok" (a holder's pid for `n`, else empty). */
  request(fields: string[]): Promise<string> {
    if (fields.some((f) => /[\t\n]/.test(f))) return Promise.reject(new Error(`a run folder path cannot hold tabs or newlines: ${JSON.stringify(fields[1])}`));
    return new Promise<string>((resolve, reject) => {
      const child = this.server();
      this.waiting.push((answer) => (/^ok( |$)/.test(answer) ? resolve(answer.slice(3)) : reject(new Error(answer.replace(/^error /, '')))));
      this.hold(child, true);
      child.stdin.write(`${fields.join('\t')}\n`);
    });
  }
}

const mounters = new Map<string, RunDirMounter>();
function mounter(launcher: string): RunDirMounter {
  let m = mounters.get(launcher);
  if (!m) mounters.set(launcher, (m = new RunDirMounter(launcher)));
  return m;
}

/** CRIU's work folder of a restored instance sits beside its run folder: `<run folder>.criu`. */
export const CRIU_WORK_SUFFIX = '.criu';

/** Room for the sockets and CRIU's work files of a restore (logs, lazy-pages socket): nothing large belongs here (uploads stream through sockets). */
export const RUN_DIR_BYTES = 16 * 1024 * 1024;

export async function mountRunDir(dir: string, uid: number, gid: number, bytes = RUN_DIR_BYTES, launcher = SANDBOX_LAUNCHER): Promise<void> {
  try {
    await mounter(launcher).request(['m', dir, String(uid), String(gid), String(bytes)]);
  } catch (err) {
    throw new Error(`cannot mount the run folder ${dir}: ${(err as Error).message}`);
  }
}

/**
 * A restored clone's /tmp or /dev/shm on the host (an external mount CRIU binds in; mounts.ts): a
 * tmpfs of its own, owned by root with the sandbox's mode, size-limited, nosuid, nodev. Made through
 * the worker's mounter, so a restore pays a line over a pipe, not a tar of the dumped tmpfs.
 */
export async function mountCloneTmpfs(dir: string, bytes: number, mode: number, exec: boolean, launcher = SANDBOX_LAUNCHER): Promise<void> {
  await mkdir(dir, { recursive: true });
  try {
    await mounter(launcher).request(['t', dir, String(bytes), mode.toString(8), exec ? 'exec' : 'noexec']);
  } catch (err) {
    throw new Error(`cannot mount ${dir} for a restored clone: ${(err as Error).message}`);
  }
}

/** The read-only /dev restored clones share (made once in `dir`; see the launcher's `fill_dev`). */
export async function mountSharedDev(dir: string, launcher = SANDBOX_LAUNCHER): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  try {
    await mounter(launcher).request(['d', dir]);
  } catch (err) {
    throw new Error(`cannot make the clones' shared /dev at ${dir}: ${(err as Error).message}`);
  }
}

/**
 * A new network namespace with its loopback up, as an open descriptor (the caller closes it). The
 * mounter's child makes it and waits while we open it; released at once after, so nothing of it
 * outlives the descriptor (and a killed worker leaves no mount or process behind).
 */
export async function makeNetns(launcher = SANDBOX_LAUNCHER): Promise<number> {
  const m = mounter(launcher);
  const holder = (await m.request(['n']).catch((err: Error) => {
    throw new Error(`cannot make a network namespace: ${err.message}`);
  })).trim();
  try {
    return openSync(`/proc/${holder}/ns/net`, 'r');
  } finally {
    await m.request(['r', holder]).catch(() => undefined);
  }
}

/** Detaches the tmpfs (whatever still holds it open) and removes the folder; idempotent. */
export async function unmountRunDir(dir: string, launcher = SANDBOX_LAUNCHER): Promise<void> {
  await mounter(launcher).request(['u', dir]).catch(() => undefined);
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
    // a run folder `<id>`, or a restored clone's /tmp or /dev/shm in CRIU's work folder `<id>.criu/`
    const rel = dir.slice(runRoot.length).replace(/^\/+/, '').split('/');
    if (rel.length > 2 || (rel.length === 2 && !rel[0]!.endsWith(CRIU_WORK_SUFFIX))) continue;
    const id = rel[0]!.endsWith(CRIU_WORK_SUFFIX) ? rel[0]!.slice(0, -CRIU_WORK_SUFFIX.length) : rel[0]!;
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
