import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, chmodSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { SANDBOX_NODE_MODULES, SANDBOX_RUN_DIR, SANDBOX_RUNTIME_DIR, SANDBOX_TASK_ROOT } from '../sandbox/launch.js';
import type { SandboxBind } from './mounts.js';

/**
 * Starting an instance that CRIU will snapshot: in the same sandbox as every other instance
 * (`hivelab-sandbox`, native/sandbox, docs/SANDBOX.md) — its own mount, PID, network, IPC and UTS
 * namespaces, a read-only root of host binds, a private /tmp, /dev and /proc, an unprivileged uid,
 * no capabilities, no_new_privs and the seccomp filter. CRIU dumps the runtime (PID 1 of its PID
 * namespace) with those credentials and restores them into every clone (src/snapshot/README.md).
 *
 * Two things differ from a booted instance, both for CRIU:
 * - `pdeathsig 0`: the runtime gets no parent-death signal. CRIU restores it, and a restored root
 *   task would receive it the moment CRIU exits. Restored instances (and the original, which serves
 *   on after its dump) are killed by their cgroup when their worker dies.
 * - the runtime's stdout and stderr are one real pipe read by `cat` on the host: CRIU can graft a
 *   new pipe in its place on restore (`--inherit-fd`), whereas Node's stdio "pipes" are socketpairs
 *   CRIU refuses as external sockets, and a log file must not change size between dump and restore.
 *   No readiness pipe is kept either (it would lead out of the snapshot): readiness is polled.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Built by scripts/setup-native.sh (HIVELAB_SANDBOX_LAUNCHER overrides it). */
export function sandboxLauncher(): string {
  return process.env.HIVELAB_SANDBOX_LAUNCHER ?? path.join(repoRoot, 'native', 'sandbox', 'build', 'hivelab-sandbox');
}

export interface SnapshotBind extends SandboxBind {
  readonly: boolean;
  noexec?: boolean;
}

/** Everything hivelab-sandbox needs for one snapshot instance (the spec it reads from a descriptor). */
export interface SnapshotLaunchSpec {
  /** Host folder that becomes `/` (read-only): the skeleton of empty mountpoints (`ensureSkeleton`). */
  rootDir: string;
  /** In mount order; every one is an external mount for CRIU (src/snapshot/mounts.ts). */
  binds: SnapshotBind[];
  tmpBytes: number;
  shmBytes: number;
  hostname: string;
  uid: number;
  gid: number;
  rlimits?: { nofile: number; fsizeBytes: number; core: number };
  cwd: string;
  /** The runtime's argv and environment, as the sandbox sees paths. */
  argv: string[];
  env: Record<string, string>;
}

export const DEFAULT_RLIMITS = { nofile: 4096, fsizeBytes: 1024 * 1024 * 1024, core: 0 };

/** The host folders of one instance's sandbox. */
export interface SnapshotSandboxInput {
  instanceId: string;
  rootDir: string;
  /** Real top-level system folders bound read-only at the same path (probeSystemRoots() kind `dir`). */
  systemDirs: string[];
  functionDir: string;
  runtimeDir: string;
  nodeModulesDir?: string;
  /** The instance's run folder: a tmpfs on the host owned by `uid`, mode 0700 (`/run/hivelab`). */
  runDir: string;
  uid: number;
  gid: number;
  memoryMB: number;
  argv: string[];
  env: Record<string, string>;
}

/** A hostname is at most 63 characters of [a-z0-9-]. */
export function sandboxHostname(instanceId: string): string {
  const h = instanceId.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63).replace(/^-+|-+$/g, '');
  return h || 'hivelab';
}

/** Pure: the binds of an instance's sandbox, in mount order (docs/SANDBOX.md's table). */
export function sandboxBinds(i: Pick<SnapshotSandboxInput, 'systemDirs' | 'functionDir' | 'runtimeDir' | 'nodeModulesDir' | 'runDir'>): SnapshotBind[] {
  const ro = (src: string, dst: string): SnapshotBind => ({ src, dst, readonly: true });
  const binds = i.systemDirs.map((d) => ro(d, d));
  binds.push(ro(i.functionDir, SANDBOX_TASK_ROOT), ro(i.runtimeDir, SANDBOX_RUNTIME_DIR));
  if (i.nodeModulesDir) binds.push(ro(i.nodeModulesDir, SANDBOX_NODE_MODULES));
  binds.push({ src: i.runDir, dst: SANDBOX_RUN_DIR, readonly: false, noexec: true });
  return binds;
}

/** Pure: the launcher spec of a snapshot instance. /tmp gets half the memory, /dev/shm a quarter (both count against it). */
export function snapshotSandboxSpec(i: SnapshotSandboxInput): SnapshotLaunchSpec {
  return {
    rootDir: i.rootDir,
    binds: sandboxBinds(i),
    tmpBytes: Math.max(16, Math.floor(i.memoryMB / 2)) * 1024 * 1024,
    shmBytes: Math.max(4, Math.floor(i.memoryMB / 4)) * 1024 * 1024,
    hostname: sandboxHostname(i.instanceId),
    uid: i.uid,
    gid: i.gid,
    cwd: SANDBOX_TASK_ROOT,
    argv: i.argv,
    env: i.env,
  };
}

function netstring(s: string): string {
  if (s.includes('\0')) throw new Error(`a NUL byte cannot reach the sandbox: ${JSON.stringify(s.slice(0, 40))}`);
  return `${Buffer.byteLength(s)}:${s},`;
}

/** Pure: the spec as hivelab-sandbox reads it (netstrings: a key, then its fields; native/sandbox/src/spec.c). */
export function encodeSnapshotSpec(s: SnapshotLaunchSpec, cgroupProcs: string[]): Buffer {
  if (s.argv.length === 0) throw new Error('snapshot launcher: empty argv');
  const items: string[] = [];
  const rec = (...fields: (string | number)[]) => items.push(...fields.map(String));
  for (const f of cgroupProcs) rec('cgroup', f);
  rec('root', s.rootDir);
  for (const b of s.binds) rec('bind', b.src, b.dst, [b.readonly ? 'ro' : 'rw', ...(b.noexec ? ['noexec'] : [])].join(','));
  rec('tmpfs', '/tmp', s.tmpBytes, '1777', '');
  rec('shm', s.shmBytes, 'hostname', s.hostname, 'uid', s.uid, 'gid', s.gid);
  const rl = s.rlimits ?? DEFAULT_RLIMITS;
  rec('rlimit', 'nofile', rl.nofile, 'rlimit', 'fsize', rl.fsizeBytes, 'rlimit', 'core', rl.core);
  rec('pdeathsig', '0'); // CRIU restores it: a restored clone would die as CRIU exits
  rec('cwd', s.cwd);
  for (const a of s.argv) rec('arg', a);
  for (const [k, v] of Object.entries(s.env)) rec('env', `${k}=${v}`);
  return Buffer.from(items.map(netstring).join(''), 'utf8');
}

/**
 * Makes `rootDir` the sandbox root's skeleton (root-owned, 0755): an empty folder for every
 * mountpoint and the host's merged-/usr symlinks (`/bin` → `usr/bin`, …). Built beside it and
 * renamed into place, so a concurrent start never sees half of one. The launcher creates nothing in
 * the root, so one skeleton serves every instance (and is CRIU's `--root` for every restore).
 */
export function ensureSkeleton(rootDir: string, systemDirs: string[], withNodeModules: boolean, symlinkRoots = ['/bin', '/sbin', '/lib', '/lib32', '/lib64']): string {
  const dirs = [...systemDirs, SANDBOX_TASK_ROOT, SANDBOX_RUNTIME_DIR, SANDBOX_RUN_DIR, '/tmp', '/proc', '/dev', ...(withNodeModules ? [SANDBOX_NODE_MODULES] : [])];
  const links: Array<[string, string]> = [];
  for (const l of symlinkRoots) {
    try {
      if (lstatSync(l).isSymbolicLink()) links.push([l, readlinkSync(l)]);
    } catch {
      /* absent here */
    }
  }
  const ok = (p: string, test: (st: ReturnType<typeof lstatSync>) => boolean) => {
    try {
      return test(lstatSync(p));
    } catch {
      return false;
    }
  };
  const complete =
    dirs.every((d) => ok(path.join(rootDir, d), (st) => st!.isDirectory())) &&
    links.every(([l, t]) => ok(path.join(rootDir, l), (st) => st!.isSymbolicLink() && readlinkSync(path.join(rootDir, l)) === t));
  if (complete) return rootDir;
  const tmp = `${rootDir}.new-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true, mode: 0o755 });
  chmodSync(tmp, 0o755);
  for (const d of dirs) mkdirSync(path.join(tmp, d), { recursive: true, mode: 0o755 });
  for (const [l, t] of links) symlinkSync(t, path.join(tmp, l));
  if (existsSync(rootDir)) rmSync(rootDir, { recursive: true, force: true });
  renameSync(tmp, rootDir);
  return rootDir;
}

export interface LaunchedInstance {
  /** Host PID of the runtime (PID 1 of the instance's PID namespace): what CRIU dumps. */
  pid: number;
  /** The shell around the sandbox launcher and `cat`; it exits when the runtime does. */
  launcher: ChildProcess;
  /** The runtime's stdout and stderr, interleaved (forwarded by `cat`), and the launcher's errors. */
  output: NodeJS.ReadableStream;
  /** Settles when the launcher exits (the instance is gone). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL to the runtime; the PID namespace dies with its PID 1. */
  kill(): void;
}

// fd 3 (the spec) goes to the launcher only; its stdout and stderr become one real pipe read by cat.
const WRAPPER = '"$@" 2>&1 | /bin/cat 3<&-';

/**
 * Starts the instance and resolves once its PID-1 runtime exists (not once it is ready: readiness
 * is the runtime's business, e.g. its socket accepting). `cgroupProcs`: `cgroup.procs` files the
 * launcher joins before it creates the sandbox (InstanceCgroup.procsFiles of src/sandbox/cgroup.ts).
 */
export async function launchForSnapshot(spec: SnapshotLaunchSpec, cgroupProcs: string[] = []): Promise<LaunchedInstance> {
  const encoded = encodeSnapshotSpec(spec, cgroupProcs);
  // An empty environment: nothing of the worker's (or a manifest's) reaches host-side programs.
  const launcher = spawn('/bin/sh', ['-c', WRAPPER, 'hivelab-snapshot-launch', sandboxLauncher(), '--spec-fd', '3'], {
    env: {},
    cwd: '/',
    stdio: ['ignore', 'pipe', 'inherit', 'pipe'],
  });
  const specPipe = launcher.stdio[3] as NodeJS.WritableStream;
  specPipe.on('error', () => undefined); // a launcher that died early; its exit tells
  specPipe.end(encoded);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    launcher.once('exit', (code, signal) => resolve({ code, signal }));
    launcher.once('error', () => resolve({ code: null, signal: null }));
  });
  const pid = await findRuntime(launcher, exited);
  return {
    pid,
    launcher,
    output: launcher.stdout!,
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

/** The runtime is the child of the sandbox launcher that the shell started. */
async function findRuntime(shell: ChildProcess, exited: Promise<unknown>): Promise<number> {
  let gone = false;
  void exited.then(() => (gone = true));
  for (let i = 0; i < 5000 && !gone; i++) {
    if (shell.pid) {
      for (const c of await childrenOf(shell.pid)) {
        const comm = (await readFile(`/proc/${c}/comm`, 'utf8').catch(() => '')).trim();
        if (comm !== 'hivelab-sandbox') continue;
        const inner = await childrenOf(c);
        if (inner.length > 0) return inner[0]!;
      }
    }
    await sleep(2);
  }
  throw new Error(`snapshot launcher: the instance did not start (launcher ${gone ? 'exited' : 'has no runtime child'})`);
}

export async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.trim().split(/\s+/).filter(Boolean).map(Number);
}
