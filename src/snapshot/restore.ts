import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { closeSync } from 'node:fs';
import { CriuError, criuLogTail, NETNS_EXTERNAL_KEY } from './criu.js';
import { makeNetns } from '../sandbox/run-dir.js';
import type { ExternalFd } from './dump.js';
import { restoreExternals, type DumpedMount, type ExternalMount } from './mounts.js';
import { CriuDeadlineError, criuDeadlineMs, imagePagesBytes } from './deadline.js';
import { CRIU_FD, LISTENER_NAME, ReadyCriu } from './ready-criu.js';

/**
 * Restoring an instance from its images, eagerly (CRIU copies every page) or lazily (CRIU leaves
 * the lazy areas empty and hands their userfaultfd to the lazy-pages daemon listening in `workDir`).
 *
 * Each restore gets: a new PID namespace (the runtime is PID 1 again, so clones of one image run
 * side by side), new IPC and UTS namespaces (the relay's, made ahead), a fresh output pipe in place of the dumped one, and its own invocation socket,
 * grafted in place of the dumped listener. CRIU is one made ready ahead of demand (ready-criu.ts: a
 * `criu swrk` behind a small relay that joined the clone's cgroups and bound its socket), asked by
 * RPC; without one, one is made on the spot. The relay becomes the restored tree's parent: its exit
 * and the end of the clone's output tell us the instance is gone.
 */

export interface RestoreOptions {
  imagesDir: string;
  /** Private to this restore: CRIU's log, the clone's socket and (lazy) `lazy-pages.socket`. */
  workDir: string;
  /**
   * A CRIU made ready for this clone (its cgroups joined, its socket bound, its network namespace
   * held; InstanceSandboxes.claimCriu); without one, one is made now from `cgroupProcs` and `netns`,
   * with the clone's socket at `<workDir>/fn.sock`.
   */
  ready?: ReadyCriu;
  /**
   * The clone's hostname (sandboxHostname of its instance id), set in the UTS namespace the relay
   * made for it: snapshots do not carry one (dump.ts).
   */
  hostname: string;
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
  /** Wall time of the restore request up to CRIU's answer, ms. */
  restoreMs: number;
  /** CRIU's own part of it (request to answer, measured by the relay), ms. */
  criuMs: number;
  /** The clone's invocation socket (root's, in CRIU's work folder: `<workDir>/fn.sock`). */
  socketPath: string;
  /** The instance's stdout and stderr, interleaved. */
  output: Readable;
  /** Settles when the instance is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL; the PID namespace dies with its PID 1. */
  kill(): void;
}

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

/**
 * A CRIU ready for this restore, made on the spot: the relay binds the clone's socket in CRIU's work
 * folder (root's; the clone's run folder is the clone's to write) and joins its cgroups.
 */
async function readyNow(opts: RestoreOptions): Promise<ReadyCriu> {
  const netns = opts.netns ?? (await makeNetns());
  try {
    return await ReadyCriu.started({ cgroupProcs: opts.cgroupProcs ?? [], netns, listenerPath: path.join(opts.workDir, LISTENER_NAME) });
  } finally {
    if (opts.netns === undefined) closeSync(netns);
  }
}

export async function restoreInstance(opts: RestoreOptions): Promise<RestoredInstance> {
  await mkdir(opts.workDir, { recursive: true });
  const listener = opts.externalFds.find((f) => f.role === 'listener');
  if (!listener) throw new Error('snapshot has no invocation-socket listener recorded');
  const outputs = opts.externalFds.filter((f) => f.role === 'output');
  const external = restoreExternals(opts.imageMounts, opts.mounts);
  let made: ReadyCriu | undefined = opts.ready;
  try {
    made ??= await readyNow(opts);
    await made.ready();
  } catch (err) {
    made?.kill();
    throw new CriuError(`criu restore from ${opts.imagesDir}: no CRIU ready: ${(err as Error).message}`, '');
  }
  const criu = made;

  const t0 = performance.now();
  let aborted: string | null = null;
  const abort = (why: string) => {
    if (aborted) return;
    aborted = why;
    criu.kill();
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
  const answer = await criu.restore(opts, {
    logFile: 'restore.log',
    logLevel: criuLogLevel(),
    // the clone's root: the sandbox's read-only skeleton; its binds are the external mounts
    root: opts.root,
    external,
    inheritFds: [
      // the instance's netns (declared external on dump) is a fresh one, loopback up, made ahead:
      // CRIU neither creates nor replays one
      { key: NETNS_EXTERNAL_KEY, fd: CRIU_FD.netns },
      { key: listener.resource, fd: CRIU_FD.listener },
      ...outputs.map((o) => ({ key: o.resource, fd: CRIU_FD.output })),
    ],
    lazyPages: opts.lazyPages === true,
  });
  clearTimeout(timer);
  opts.signal?.removeEventListener('abort', onAbort);
  const restoreMs = performance.now() - t0;
  await keepLog(opts.workDir);
  const logTail = () => criuLogTail(path.join(opts.workDir, 'restore.log'));
  if (aborted) {
    if (expired) throw new CriuDeadlineError('restore', deadlineMs, `criu restore from ${opts.imagesDir} and every task it created were killed\n${logTail()}`);
    throw new CriuError(`criu restore from ${opts.imagesDir}: ${aborted}`, logTail());
  }
  const { response, criuMs } = answer;
  if (!response?.success || !response.pid) {
    // CRIU exits right after a failed answer: its status and last words make the error
    const waitStatus = response ? await Promise.race([criu.criuExit, new Promise<null>((r) => setTimeout(() => r(null), 1000).unref())]) : null;
    criu.kill();
    const why = !response
      ? await criu.failure()
      : `${response.errmsg ?? 'CRIU said no'}${response.errno ? ` (errno ${response.errno})` : ''}${waitStatus ? `, wait status ${waitStatus}` : ''}${criu.messages ? `: ${criu.messages}` : ''}`;
    throw new CriuError(`criu restore from ${opts.imagesDir} failed: ${why}`, logTail());
  }
  const pid = response.pid;
  return {
    pid,
    restoreMs,
    criuMs: criuMs ?? restoreMs,
    socketPath: criu.listenerPath,
    output: criu.output,
    exited: criu.exited,
    kill: () => criu.kill(),
  };
}
