import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { criuVersion } from './criu.js';
import { dumpInstance, type ExternalFd } from './dump.js';
import { readTaskPageMaps, writePageMapIndex } from './images.js';
import type { DumpedMount } from './mounts.js';

/**
 * The snapshot store: `<state>/snapshots/<function>/<version>/` holds
 *   images/        CRIU's images of the instance (after init and one warm-up invocation)
 *   pagemap.idx    the lazy page map the REAP monitor reads (see images.ts)
 *   trace.bin      record phase: the pages the first invocation touched, in fault order
 *   ws.bin         record phase: those pages' contents back to back (the working set)
 *   meta.json      function version, runtime, CRIU version, sizes and SHA-256 of every file
 * A snapshot is written into a scratch folder and renamed into place, so a crash mid-dump leaves no
 * half snapshot behind. A file whose checksum does not match is never used.
 */

export const META_FILE = 'meta.json';
export const TRACE_FILE = 'trace.bin';
export const WS_FILE = 'ws.bin';
export const PAGE_MAP_INDEX = 'pagemap.idx';
export const IMAGES_DIR = 'images';

export interface FileRecord {
  size: number;
  sha256: string;
}

export interface WorkingSetMeta {
  recordedAt: string;
  wsPages: number;
  /** trace.bin and ws.bin. */
  files: Record<string, FileRecord>;
}

/**
 * 3: the instance ran in the sandbox (mount namespace, unprivileged uid), `mounts` lists its
 * external mounts, and its network namespace is external too (each restore brings a fresh one).
 * 4: `pagemap.idx` has one section per dumped task (`HLPGMAP2`), so lazy and REAP restores serve
 * a multi-process instance (a `command` function: the port bridge and its program) each task's own
 * pages; the working set records the task of each page (`HLTRACE2`).
 * 5: dumped from inside the instance's IPC and UTS namespaces, so the images hold neither: a
 * restore inherits fresh ones made ahead of demand (dump.ts, criu_swrk.c).
 * 6: a Python runtime ran with one malloc arena (`mallocTunables`, src/sandbox/launch.ts), so a
 * clone's first invocation allocates where the recorded one did, whichever thread serves it.
 * 7: a `command` instance's port bridge answers the readiness probe (runtime/port/readiness.cts),
 * which a restored one must pass before it is handed out.
 * An older snapshot (format 1: taken in the host's mount namespace, as root; format 2: its netns
 * saved in the images; format 3: PID 1's page map only; format 4: its IPC and UTS namespaces in
 * the images; format 5: a Python runtime's arenas, one per thread that ever allocated; format 6: a
 * bridge that passes the probe to its program, so every restore of a command function would fail
 * and boot) is refused, so the platform deletes it and snapshots the version anew.
 */
export const SNAPSHOT_FORMAT = 7;

export interface SnapshotMeta {
  format: typeof SNAPSHOT_FORMAT;
  function: string;
  version: string;
  runtime: string;
  runtimeVersion: string;
  criuVersion: string;
  createdAt: string;
  dumpMs: number;
  /** Sum of the images' sizes. */
  imageBytes: number;
  /** PID 1's pages image, relative to the snapshot folder, e.g. `images/pages-1.img`. */
  pagesFile: string;
  /** Every dumped task's pages image (PID 1's first), relative to the snapshot folder. */
  pagesFiles: string[];
  /** Descriptors a restore must supply (`--inherit-fd`). */
  externalFds: ExternalFd[];
  /** The sandbox's bind mounts, declared external on dump: a restore maps each name to a host folder. */
  mounts: DumpedMount[];
  /** Every file of the snapshot except meta.json and the working set, by relative path. */
  files: Record<string, FileRecord>;
  workingSet?: WorkingSetMeta;
}

export class SnapshotCorruptError extends Error {
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
    this.name = 'SnapshotCorruptError';
  }
}

export function snapshotDir(stateDir: string, functionName: string, version: string): string {
  return path.join(stateDir, 'snapshots', functionName, version);
}

/** A snapshot on disk, with the paths the restore paths need. */
export class Snapshot {
  constructor(
    readonly dir: string,
    readonly meta: SnapshotMeta,
  ) {}
  get imagesDir(): string {
    return path.join(this.dir, IMAGES_DIR);
  }
  get pagesFile(): string {
    return path.join(this.dir, this.meta.pagesFile);
  }
  /** The instance's memory: every dumped task's pages image, in bytes. */
  get memoryBytes(): number | undefined {
    const sizes = this.meta.pagesFiles.map((f) => this.meta.files[f]?.size);
    return sizes.some((s) => s === undefined) ? undefined : sizes.reduce((a, b) => a! + b!, 0);
  }
  get pageMapIndex(): string {
    return path.join(this.dir, PAGE_MAP_INDEX);
  }
  get traceFile(): string {
    return path.join(this.dir, TRACE_FILE);
  }
  get wsFile(): string {
    return path.join(this.dir, WS_FILE);
  }
  get hasWorkingSet(): boolean {
    return this.meta.workingSet !== undefined;
  }
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = path.join(prefix, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out.sort();
}

async function record(dir: string, rel: string): Promise<FileRecord> {
  const file = path.join(dir, rel);
  return { size: (await stat(file)).size, sha256: await sha256File(file) };
}

async function writeMeta(dir: string, meta: SnapshotMeta): Promise<void> {
  const tmp = path.join(dir, `${META_FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(meta, null, 2));
  await rename(tmp, path.join(dir, META_FILE));
}

export interface CreateSnapshotOptions {
  stateDir: string;
  functionName: string;
  version: string;
  runtime: string;
  runtimeVersion: string;
  /** Host PID of the instance's runtime (started by launchForSnapshot), idle, after its warm-up invocation. */
  pid: number;
  /** Its invocation socket's path inside the sandbox (`/run/hivelab/fn.sock`). */
  socketPath: string;
  /** The sandbox's bind mounts (src/snapshot/mounts.ts). */
  mounts: DumpedMount[];
  leaveRunning?: boolean;
}

/** Checkpoints the instance into the store, replacing any snapshot of the same version. */
export async function createSnapshot(opts: CreateSnapshotOptions): Promise<Snapshot> {
  const final = snapshotDir(opts.stateDir, opts.functionName, opts.version);
  const scratch = `${final}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(scratch, { recursive: true });
  try {
    const dump = await dumpInstance({ pid: opts.pid, imagesDir: path.join(scratch, IMAGES_DIR), socketPath: opts.socketPath, mounts: opts.mounts, leaveRunning: opts.leaveRunning });
    const maps = await readTaskPageMaps(path.join(scratch, IMAGES_DIR));
    await writePageMapIndex(maps, path.join(scratch, PAGE_MAP_INDEX));
    const files: Record<string, FileRecord> = {};
    let imageBytes = 0;
    for (const rel of await listFiles(scratch)) {
      files[rel] = await record(scratch, rel);
      if (rel.startsWith(`${IMAGES_DIR}/`) && rel.endsWith('.img')) imageBytes += files[rel]!.size;
    }
    const meta: SnapshotMeta = {
      format: SNAPSHOT_FORMAT,
      function: opts.functionName,
      version: opts.version,
      runtime: opts.runtime,
      runtimeVersion: opts.runtimeVersion,
      criuVersion: await criuVersion(),
      createdAt: new Date().toISOString(),
      dumpMs: dump.durationMs,
      imageBytes,
      pagesFile: path.relative(scratch, maps[0]!.pagesFile),
      pagesFiles: maps.map((m) => path.relative(scratch, m.pagesFile)),
      externalFds: dump.externalFds,
      mounts: dump.mounts,
      files,
    };
    await writeMeta(scratch, meta);
    await rm(final, { recursive: true, force: true });
    await rename(scratch, final);
    return new Snapshot(final, meta);
  } catch (err) {
    await rm(scratch, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Opens a snapshot; null when there is none. `verify: true` re-hashes every file (tens of ms per
 * 40 MB: do it when a snapshot is first used by a worker, not on every cold start).
 */
export async function openSnapshot(stateDir: string, functionName: string, version: string, opts: { verify?: boolean } = {}): Promise<Snapshot | null> {
  const dir = snapshotDir(stateDir, functionName, version);
  let meta: SnapshotMeta;
  try {
    meta = JSON.parse(await readFile(path.join(dir, META_FILE), 'utf8')) as SnapshotMeta;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SnapshotCorruptError(`snapshot ${dir}: unreadable ${META_FILE}: ${(err as Error).message}`, META_FILE);
  }
  if (meta.format !== SNAPSHOT_FORMAT) {
    throw new SnapshotCorruptError(`snapshot ${dir}: format ${String(meta.format)} (this platform restores format ${SNAPSHOT_FORMAT}, sandboxed instances)`, META_FILE);
  }
  if (meta.version !== version || meta.function !== functionName) {
    throw new SnapshotCorruptError(`snapshot ${dir}: ${META_FILE} describes ${meta.function}@${meta.version}`, META_FILE);
  }
  const snapshot = new Snapshot(dir, meta);
  if (opts.verify) await verifyFiles(dir, meta.files);
  return snapshot;
}

async function verifyFiles(dir: string, files: Record<string, FileRecord>): Promise<void> {
  for (const [rel, want] of Object.entries(files)) {
    const file = path.join(dir, rel);
    let got: FileRecord;
    try {
      got = await record(dir, rel);
    } catch (err) {
      throw new SnapshotCorruptError(`snapshot file ${file} is missing: ${(err as Error).message}`, rel);
    }
    if (got.size !== want.size || got.sha256 !== want.sha256) {
      throw new SnapshotCorruptError(`snapshot file ${file} is corrupted (sha256 ${got.sha256.slice(0, 12)}…, size ${got.size}; expected ${want.sha256.slice(0, 12)}…, ${want.size})`, rel);
    }
  }
}

/** After a record phase (the monitor wrote trace.bin and ws.bin): checksum them into meta.json. */
export async function commitWorkingSet(snapshot: Snapshot, wsPages: number): Promise<Snapshot> {
  const meta: SnapshotMeta = {
    ...snapshot.meta,
    workingSet: {
      recordedAt: new Date().toISOString(),
      wsPages,
      files: { [TRACE_FILE]: await record(snapshot.dir, TRACE_FILE), [WS_FILE]: await record(snapshot.dir, WS_FILE) },
    },
  };
  await writeMeta(snapshot.dir, meta);
  return new Snapshot(snapshot.dir, meta);
}

/** Checks the working set against meta.json; throws SnapshotCorruptError when it must not be used. */
export async function verifyWorkingSet(snapshot: Snapshot): Promise<void> {
  if (!snapshot.meta.workingSet) throw new SnapshotCorruptError(`snapshot ${snapshot.dir} has no working set`, WS_FILE);
  await verifyFiles(snapshot.dir, snapshot.meta.workingSet.files);
}

/** Forgets the working set (misprediction or corruption): the next cold start records again. */
export async function dropWorkingSet(snapshot: Snapshot): Promise<Snapshot> {
  const { workingSet: _dropped, ...rest } = snapshot.meta;
  const meta: SnapshotMeta = rest;
  await writeMeta(snapshot.dir, meta);
  await rm(snapshot.traceFile, { force: true });
  await rm(snapshot.wsFile, { force: true });
  return new Snapshot(snapshot.dir, meta);
}

/** A redeploy invalidates the function's other snapshots. */
export async function invalidateSnapshots(stateDir: string, functionName: string, keepVersion?: string): Promise<string[]> {
  const dir = path.join(stateDir, 'snapshots', functionName);
  const removed: string[] = [];
  for (const v of await readdir(dir).catch(() => [] as string[])) {
    if (v === keepVersion) continue;
    await rm(path.join(dir, v), { recursive: true, force: true });
    removed.push(v);
  }
  return removed;
}
