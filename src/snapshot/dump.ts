import { mkdir, readFile, readdir, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CriuError, criuLogTail, NETNS_EXTERNAL_KEY, run } from './criu.js';
import { dumpMountArgs, type DumpedMount } from './mounts.js';
import { CriuDeadlineError, criuDeadlineMs, killTree } from './deadline.js';

/**
 * Checkpointing a running instance into an images directory.
 *
 * Before dumping we note the descriptors that lead out of the instance, because a restore has to be
 * handed fresh ones in their place (`--inherit-fd`): the stdout/stderr pipe (its reader, `cat`, is
 * outside) and the invocation socket's listener (each restored clone gets its own, bound at its own
 * path, so clones of one image can run side by side).
 */

/** A descriptor of the dumped instance that a restore must supply itself. */
export interface ExternalFd {
  /** The descriptor number inside the instance. */
  fd: number;
  /** CRIU's name for it, the `--inherit-fd` key: `pipe:[inode]` or `socket:[inode]`. */
  resource: string;
  role: 'output' | 'listener';
}

export interface DumpOptions {
  /** Host PID of the instance's runtime (PID 1 of its PID namespace). */
  pid: number;
  imagesDir: string;
  /** The invocation socket's path as the runtime bound it (inside the sandbox: `/run/hivelab/fn.sock`). */
  socketPath: string;
  /** The sandbox's bind mounts (src/snapshot/mounts.ts `externalMounts`): declared external. */
  mounts: DumpedMount[];
  /** Keep the instance running after the dump (default: CRIU kills it). */
  leaveRunning?: boolean;
  /** Longest the dump may take; default sized to the instance's resident memory (deadline.ts). */
  deadlineMs?: number;
}

export interface DumpResult {
  imagesDir: string;
  durationMs: number;
  externalFds: ExternalFd[];
  /** The external mounts, by name and sandbox path: every restore maps each name to a host folder. */
  mounts: DumpedMount[];
}

/** Finds the descriptors that leave the instance: pipes it holds only one end of, and its listener. */
export async function findExternalFds(pid: number, socketPath: string): Promise<ExternalFd[]> {
  const fdDir = `/proc/${pid}/fd`;
  const entries: Array<{ fd: number; link: string; write: boolean }> = [];
  for (const name of await readdir(fdDir)) {
    const link = await readlink(path.join(fdDir, name)).catch(() => '');
    const info = await readFile(`/proc/${pid}/fdinfo/${name}`, 'utf8').catch(() => '');
    const flags = parseInt(/^flags:\s*(\d+)/m.exec(info)?.[1] ?? '0', 8);
    entries.push({ fd: Number(name), link, write: (flags & 3) !== 0 });
  }
  const out: ExternalFd[] = [];
  // A pipe with both ends inside (libuv's signal pipes) is the instance's own business.
  const pipes = new Map<string, { read: boolean; write: boolean; fds: number[] }>();
  for (const e of entries) {
    if (!e.link.startsWith('pipe:')) continue;
    const p = pipes.get(e.link) ?? { read: false, write: false, fds: [] };
    if (e.write) p.write = true;
    else p.read = true;
    p.fds.push(e.fd);
    pipes.set(e.link, p);
  }
  for (const [resource, p] of pipes) {
    if (p.read && p.write) continue;
    if (p.read || p.fds.some((fd) => fd !== 1 && fd !== 2)) {
      throw new Error(`instance ${pid} holds an outside pipe ${resource} on fd ${p.fds.join(',')}: only stdout/stderr may lead out (start it with launchForSnapshot)`);
    }
    out.push({ fd: Math.min(...p.fds), resource, role: 'output' });
  }
  // /proc/<pid>/net/unix shows the sockets of the instance's network namespace, with their paths
  // as the instance bound them (sandbox paths).
  const unix = await readFile(`/proc/${pid}/net/unix`, 'utf8');
  const resolved = path.resolve(socketPath);
  const listenerInode = unix
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .find((cols) => cols.length >= 8 && cols[7] === resolved)?.[6];
  if (!listenerInode) throw new Error(`instance ${pid} does not listen on ${socketPath}`);
  const listener = entries.find((e) => e.link === `socket:[${listenerInode}]`);
  if (!listener) throw new Error(`instance ${pid}: listener socket:[${listenerInode}] not among its descriptors`);
  out.push({ fd: listener.fd, resource: listener.link, role: 'listener' });
  return out;
}

/** Dumps the instance's process tree. Its only connections must be closed (no invocation in flight). */
export async function dumpInstance(opts: DumpOptions): Promise<DumpResult> {
  await mkdir(opts.imagesDir, { recursive: true });
  const externalFds = await findExternalFds(opts.pid, opts.socketPath);
  const args = [
    'dump',
    '--tree', String(opts.pid),
    '--images-dir', opts.imagesDir,
    '--log-file', 'dump.log',
    '-v2',
    // The instance has its own network namespace with nothing but loopback: no need to lock it,
    // nor to save it: every restore gets a fresh one, loopback up (restore.ts).
    '--network-lock', 'skip',
    '--external', `net[${(await stat(`/proc/${opts.pid}/ns/net`)).ino}]:${NETNS_EXTERNAL_KEY}`,
    // Our memory cgroup is per instance and set up by the worker on restore.
    '--manage-cgroups=ignore',
    // The listener is handed over anew on restore; the stdout pipe's reader is outside.
    '--ext-unix-sk',
    // Host folders bound into the sandbox: recorded by name, supplied again by each restore.
    ...dumpMountArgs(opts.mounts),
  ];
  if (opts.leaveRunning) args.push('--leave-running');
  const deadlineMs = opts.deadlineMs ?? criuDeadlineMs(await residentBytes(opts.pid));
  const t0 = performance.now();
  try {
    // CRIU in the instance's IPC and UTS namespaces sees them as its own and records neither: a
    // restore then inherits fresh ones made ahead of demand (criu_swrk.c) instead of CRIU creating
    // and refilling them (~1.5 ms of every restore). What is lost: SysV IPC objects and POSIX
    // message queues made before the snapshot, which no runtime of ours uses.
    await run(args, { timeoutMs: deadlineMs, namespacesOf: opts.pid });
  } catch (err) {
    if ((err as { killed?: boolean }).killed) {
      // CRIU was SIGKILLed at its deadline; the tree it had seized may still be frozen with CRIU's
      // parasite inside: it can never serve again, so it goes too.
      killTree(opts.pid);
      throw new CriuDeadlineError('dump', deadlineMs, `criu dump of PID ${opts.pid} was killed and the instance with it\n${criuLogTail(path.join(opts.imagesDir, 'dump.log'))}`);
    }
    throw new CriuError(`criu dump of PID ${opts.pid} failed: ${(err as Error).message.split('\n')[0]}`, criuLogTail(path.join(opts.imagesDir, 'dump.log')));
  }
  return { imagesDir: opts.imagesDir, durationMs: performance.now() - t0, externalFds, mounts: opts.mounts.map(({ name, target }) => ({ name, target })) };
}

/** Resident memory of the instance's runtime (what the pages image will hold, roughly). */
async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) * 1024;
}
