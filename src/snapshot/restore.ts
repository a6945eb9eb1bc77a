import { spawn } from 'node:child_process';
import { copyFile, link, mkdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { closeSync } from 'node:fs';
import { CriuError, cleanEnv, criuBinary, criuLogTail, NETNS_EXTERNAL_KEY } from './criu.js';
import { makeNetns } from '../sandbox/run-dir.js';
import type { ExternalFd } from './dump.js';
import { restoreMountArgs, type DumpedMount, type ExternalMount } from './mounts.js';
import { joinCgroupsScript } from '../sandbox/cgroup.js';
import { CriuDeadlineError, criuDeadlineMs, imagePagesBytes, killTree } from './deadline.js';

/**
 * Restoring an instance from its images, eagerly (CRIU copies every page) or lazily (CRIU leaves
 * the lazy areas empty and hands their userfaultfd to the lazy-pages daemon listening in `workDir`).
 *
 * Each restore gets: a new PID namespace (the runtime is PID 1 again, so clones of one image run
 * side by side), a fresh output pipe in place of the dumped one, and its own invocation socket,
 * bound by us at `socketPath` and grafted in place of the dumped listener. CRIU runs with
 * `--restore-detached`; the shell around it keeps `cat` forwarding the instance's output, and its
 * exit tells us the instance is gone (CRIU's detached child is reparented away from us).
 */

export interface RestoreOptions {
  imagesDir: string;
  /** Private to this restore: CRIU's log, the pidfile and (lazy) `lazy-pages.socket`. */
  workDir: string;
  /** Where this clone's invocation socket goes (host path; in the clone's run folder). */
  socketPath: string;
  /** CRIU's `--root`: a read-only mount of the sandbox's skeleton (mounts.ts `ensureRestoreRoot`). */
  root: string;
  /** The snapshot's external mounts (meta.json `mounts`). */
  imageMounts: DumpedMount[];
  /** This clone's host folders for them (its own run folder; the shared read-only ones). */
  mounts: ExternalMount[];
  /** From the dump (`DumpResult.externalFds`, kept in the snapshot's meta.json). */
  externalFds: ExternalFd[];
  /**
   * The clone's network namespace (a descriptor; the caller keeps and closes it), made ahead of
   * demand with loopback up (InstanceSandboxes.netns). Without one, the restore makes its own.
   */
  netns?: number;
  /** Lazy restore: a lazy-pages daemon must already listen on `<workDir>/lazy-pages.socket`. */
  lazyPages?: boolean;
  /** `cgroup.procs` files CRIU runs in, so the restored tasks start in them (InstanceCgroup.procsFiles). */
  cgroupProcs?: string[];
  /**
   * Aborts a restore in progress: CRIU and every task it created are SIGKILLed. Needed when a lazy
   * restore's monitor dies mid-restore: CRIU then kills the half-restored tree but, still tracing
   * its threads, waits forever for a PID-namespace init that waits for them.
   */
  signal?: AbortSignal;
  /** Gives up (and kills as above) after this long; default sized to the images (deadline.ts). */
  timeoutMs?: number;
}

export interface RestoredInstance {
  /** Host PID of the restored runtime. */
  pid: number;
  /** Wall time of `criu restore`, ms. */
  restoreMs: number;
  /** The instance's stdout and stderr, interleaved. */
  output: Readable;
  /** Settles when the instance is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL; the PID namespace dies with its PID 1. */
  kill(): void;
}

/**
 * Binds a listening Unix socket for the clone and returns its descriptor (to pass to CRIU). It is
 * bound at a scratch name and given its real name only once CRIU is done: CRIU unlinks whatever
 * sits at the dumped listener's path (`/run/hivelab/fn.sock`, which in the clone is this run
 * folder's `fn.sock`) before it restores sockets. `publish` links the real name; `release` closes
 * our copy (libuv then unlinks the scratch name; the real one stays).
 */
async function bindListener(socketPath: string): Promise<{ fd: number; publish: () => Promise<void>; release: () => void }> {
  await rm(socketPath, { force: true });
  const scratch = `${socketPath}.${process.pid}.${Math.random().toString(36).slice(2, 8)}`;
  const server = net.createServer();
  server.on('connection', (c) => c.destroy()); // nobody knows the path yet; never serve on it ourselves
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(scratch, () => resolve());
  });
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    server.close();
    throw new Error('cannot get the descriptor of the listening socket');
  }
  return { fd, publish: () => link(scratch, socketPath), release: () => server.close() };
}

const EXIT_MARK = 'hivelab-criu-exit ';

/**
 * The shell around CRIU: `sh -c RESTORE_WRAPPER criu [cgroup.procs files…] -- [restore args…]`.
 * It joins the instance's cgroups before CRIU starts, so the restored tasks are born in them and
 * every page the restore brings in (CRIU's copies, the monitor's prefetch, lazy faults) counts
 * against the instance's memory limit. Then it keeps `cat` forwarding the instance's output and
 * reports CRIU's exit status on stderr.
 */
const RESTORE_WRAPPER = [
  'criu=$0',
  ...joinCgroupsScript('hivelab restore', `echo "${EXIT_MARK}97" >&2`),
  `{ "$criu" restore "$@"; echo "${EXIT_MARK}$?" >&2; } | cat`,
].join('\n');

/**
 * CRIU's log level for restores: 2 (errors and warnings) unless `HIVELAB_CRIU_LOG_LEVEL` asks for
 * more; 4 logs every step with its time, which `bench/restore-phases.mjs` turns into a breakdown
 * (it slows the restore a little: it is for finding where the time goes, not for timing it).
 */
export function criuLogLevel(): number {
  const v = Number(process.env.HIVELAB_CRIU_LOG_LEVEL ?? 2);
  return Number.isInteger(v) && v >= 0 && v <= 4 ? v : 2;
}

/** Keeps a restore's CRIU log in `HIVELAB_CRIU_KEEP_LOGS` (the work folder goes with the instance). */
async function keepLog(workDir: string): Promise<void> {
  const keep = process.env.HIVELAB_CRIU_KEEP_LOGS;
  if (!keep) return;
  await mkdir(keep, { recursive: true });
  await copyFile(path.join(workDir, 'restore.log'), path.join(keep, `${path.basename(workDir)}-${Date.now()}.restore.log`)).catch(() => undefined);
}

/** Where CRIU finds the clone's network namespace and its invocation socket (restoreInstance's stdio). */
const LISTENER_FD = 3;
const NETNS_FD = 4;

/** Pure: `criu restore`'s arguments for one clone. */
export function restoreArgs(opts: RestoreOptions, pidfile: string, listener: ExternalFd, outputs: ExternalFd[]): string[] {
  return [
    '--images-dir', opts.imagesDir,
    '--work-dir', opts.workDir,
    '--log-file', 'restore.log',
    `-v${criuLogLevel()}`,
    '--restore-detached',
    // the clone's root: the sandbox's read-only skeleton; its binds are the external mounts below
    '--root', opts.root,
    ...restoreMountArgs(opts.imageMounts, opts.mounts),
    // the instance's netns (declared external on dump) is a fresh one, loopback up, made ahead:
    // CRIU neither creates nor replays one (that took an `ip` run and an action script per restore)
    '--inherit-fd', `fd[${NETNS_FD}]:${NETNS_EXTERNAL_KEY}`,
    '--manage-cgroups=ignore',
    '--ext-unix-sk',
    '--pidfile', pidfile,
    '--inherit-fd', `fd[${LISTENER_FD}]:${listener.resource}`,
    ...outputs.flatMap((o) => ['--inherit-fd', `fd[1]:${o.resource}`]),
    ...(opts.lazyPages ? ['--lazy-pages'] : []),
  ];
}

export async function restoreInstance(opts: RestoreOptions): Promise<RestoredInstance> {
  await mkdir(opts.workDir, { recursive: true });
  const pidfile = path.join(opts.workDir, 'restore.pid');
  await rm(pidfile, { force: true });
  const listener = opts.externalFds.find((f) => f.role === 'listener');
  if (!listener) throw new Error('snapshot has no invocation-socket listener recorded');
  const outputs = opts.externalFds.filter((f) => f.role === 'output');

  const bound = await bindListener(opts.socketPath);
  let args: string[];
  try {
    args = restoreArgs(opts, pidfile, listener, outputs);
  } catch (err) {
    bound.release();
    throw err;
  }

  let netns: number;
  try {
    netns = opts.netns ?? (await makeNetns());
  } catch (err) {
    bound.release();
    throw err;
  }
  const t0 = performance.now();
  // CRIU's fd 1 is the new output pipe (read by cat), fd 3 the new listener, fd 4 the netns.
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn('/bin/sh', ['-c', RESTORE_WRAPPER, criuBinary(), ...(opts.cgroupProcs ?? []), '--', ...args], {
      stdio: ['ignore', 'pipe', 'pipe', bound.fd, netns],
      env: cleanEnv(),
    });
  } finally {
    if (opts.netns === undefined) closeSync(netns);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let stderr = '';
  let aborted: string | null = null;
  const abort = (why: string) => {
    if (aborted || child.pid === undefined) return;
    aborted = why;
    killTree(child.pid);
  };
  const onAbort = () => abort('restore aborted');
  opts.signal?.addEventListener('abort', onAbort);
  if (opts.signal?.aborted) onAbort();
  const deadlineMs = opts.timeoutMs ?? criuDeadlineMs(imagePagesBytes(opts.imagesDir));
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    abort(`restore timed out after ${deadlineMs} ms`);
  }, deadlineMs);
  const criuExit = new Promise<number>((resolve) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = new RegExp(`${EXIT_MARK}(\\d+)`).exec(stderr);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(() => resolve(-1));
  });
  const code = await criuExit;
  clearTimeout(timer);
  opts.signal?.removeEventListener('abort', onAbort);
  const restoreMs = performance.now() - t0;
  await keepLog(opts.workDir);
  if (aborted || code !== 0) bound.release();
  if (aborted) {
    if (expired) throw new CriuDeadlineError('restore', deadlineMs, `criu restore from ${opts.imagesDir} and every task it created were killed\n${criuLogTail(path.join(opts.workDir, 'restore.log'))}`);
    throw new CriuError(`criu restore from ${opts.imagesDir}: ${aborted}`, criuLogTail(path.join(opts.workDir, 'restore.log')));
  }
  const logTail = criuLogTail(path.join(opts.workDir, 'restore.log'));
  if (code !== 0) {
    throw new CriuError(`criu restore from ${opts.imagesDir} failed (exit ${code})${stderr ? `: ${stderr.replace(EXIT_MARK, 'exit ').trim()}` : ''}`, logTail);
  }
  try {
    await bound.publish(); // the clone's socket gets its real name only now (bindListener says why)
  } finally {
    bound.release();
  }
  const pid = Number((await readFile(pidfile, 'utf8')).trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new CriuError('criu restore wrote no pidfile', logTail);
  return {
    pid,
    restoreMs,
    output: child.stdout!,
    exited,
    kill: () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    },
  };
}
