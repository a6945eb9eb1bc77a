import { lambdaEnv } from './lambda-env.js';
import { lstatSync, readlinkSync } from 'node:fs';
import type { FunctionManifest, Runtime } from '../manifest/schema.js';
import type { InstanceSpec } from './backend.js';
import { instanceVcpus } from './cgroup.js';

/**
 * How an instance's process tree is launched, as pure data. The tree on the host is:
 *
 *   hivelab-sandbox (joins the instance cgroups, stays in the host PID namespace, waits, exits with
 *   the runtime's status) ─clone(new mnt/pid/net/ipc/uts ns)→ runtime = PID 1 of its namespace,
 *   unprivileged uid, no capabilities, no_new_privs, seccomp
 *
 * The launcher (native/sandbox, docs/SANDBOX.md) reads the spec built here from an inherited
 * descriptor: nothing of it passes through argv or environ, which the host's dynamic loader and
 * other local users could read. No user namespace: CRIU cannot join one and its lazy-pages
 * `userfaultfd()` fails inside one here (docs/SANDBOX.md).
 */

export const SANDBOX_TASK_ROOT = '/var/task';
export const SANDBOX_RUN_DIR = '/run/hivelab';
export const SANDBOX_RUNTIME_DIR = '/opt/hivelab/runtime';
export const SANDBOX_NODE_MODULES = '/node_modules';
/**
 * Where an image instance sees the host's node (binary, dynamic loader and the few libraries it
 * links), read-only: the port bridge runs with it whatever the image holds (docs/SANDBOX.md).
 */
export const SANDBOX_HOST_NODE = '/opt/hivelab/node';
export const READY_FD = 3;

/** Host folders the sandbox needs besides the instance's own. */
export interface SandboxLayout {
  /** Host path of `dist/runtime` (the compiled shims). */
  runtimeDir: string;
  /** Host path of the platform's node_modules (omitted: not mounted). */
  nodeModulesDir?: string;
  /** How the host's top-level system folders look: real folders are bound, symlinks recreated. */
  systemRoots: SystemRoot[];
  /** Host folder of the node bundle bound at /opt/hivelab/node into image instances (host-node.ts). */
  hostNodeDir?: string;
}

export type SystemRoot = { path: string; kind: 'dir' } | { path: string; kind: 'symlink'; target: string };

export interface Rlimits {
  nofile: number;
  /** Largest file the instance may write, bytes. */
  fsizeBytes: number;
  core: number;
}

export const DEFAULT_RLIMITS: Rlimits = { nofile: 4096, fsizeBytes: 1024 * 1024 * 1024, core: 0 };

/** The first uid (and gid) of the range functions run as; docs/SANDBOX.md. */
export const SANDBOX_UID_BASE = 100_000;
/** One past the last uid of the range (65 536 functions per state folder). */
export const SANDBOX_UID_END = 165_536;

export interface LaunchInput {
  spec: InstanceSpec;
  layout: SandboxLayout;
  /** cgroup.procs files the launcher joins before anything else (may be empty). */
  cgroupProcsFiles: string[];
  rlimits?: Rlimits;
  /** The command run inside the sandbox; default: the runtime shim for the manifest's runtime. */
  runtimeArgv?: string[];
}

/** What hivelab-sandbox does, as data (encoded by `encodeSandboxSpec`). */
export interface SandboxSpec {
  cgroupProcsFiles: string[];
  /** Host folder that becomes `/` (read-only): the worker's skeleton or an image's rootfs. */
  root: string;
  /** In order; targets are sandbox paths whose mountpoints must exist in `root`. */
  binds: { src: string; dst: string; readonly: boolean; noexec?: boolean }[];
  tmpfs: { dst: string; sizeBytes: number; mode: number; noexec?: boolean }[];
  shmBytes: number;
  hostname: string;
  uid: number;
  gid: number;
  rlimits: Rlimits;
  /** The one descriptor above 2 the runtime keeps (the readiness pipe). */
  keepFd?: number;
  cwd: string;
  argv: string[];
  env: Record<string, string>;
}

/** Looks at /usr, /bin, /lib, ... once: on merged-/usr systems most are symlinks into /usr. */
export function probeSystemRoots(paths = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/etc']): SystemRoot[] {
  const roots: SystemRoot[] = [];
  for (const path of paths) {
    try {
      const st = lstatSync(path);
      if (st.isSymbolicLink()) roots.push({ path, kind: 'symlink', target: readlinkSync(path) });
      else if (st.isDirectory()) roots.push({ path, kind: 'dir' });
    } catch {
      // absent on this machine
    }
  }
  return roots;
}

/**
 * The runtime shim's command line. `runtimeDir` is where the compiled runtimes are seen by the
 * runtime: /opt/hivelab/runtime inside the sandbox; a launcher without a mount namespace
 * passes the host's `dist/runtime`.
 */
export function runtimeArgvFor(runtime: Runtime, runtimeDir = SANDBOX_RUNTIME_DIR, vcpus = 1): string[] {
  switch (runtime) {
    case 'node':
      return ['/usr/bin/node', v8PoolFlag(vcpus), `${runtimeDir}/node/shim.cjs`];
    case 'python':
      // Debian's interpreter (with python3-numpy etc.), not a pyenv shim.
      return ['/usr/bin/python3', `${runtimeDir}/python/shim.py`];
  }
}

/**
 * V8's worker pool (concurrent GC and compilation) sized to the vCPUs of the instance's CPU quota.
 * Node's default is 4 workers whatever the quota; an instance capped at one vCPU cannot run them
 * beside its main thread, and each costs a thread to create at boot and to restore from a snapshot
 * (its registers, CRIU's syscall stops): 11 → 8 threads took ~1 ms off CRIU's fixed part of a
 * helloworld-node restore here (BENCHMARKS.md). libuv's pool (blocking I/O, not CPU) keeps its 4.
 */
export function v8PoolFlag(vcpus: number): string {
  return `--v8-pool-size=${Math.max(1, Math.ceil(vcpus))}`;
}

/**
 * The instance's main process: the runtime shim for a handler, or the port bridge
 * (src/runtime/port/bridge.cts) that runs a server program (`command`) and passes the platform's
 * socket through to its port.
 */
export function instanceArgvFor(manifest: FunctionManifest, runtimeDir = SANDBOX_RUNTIME_DIR): string[] {
  // an image brings its own /usr (maybe without node, maybe another libc): the bridge runs the
  // host's node through the host's loader, both in the bundle, never touching the image's libraries
  if (manifest.command && manifest.image) {
    return [`${SANDBOX_HOST_NODE}/ld.so`, '--library-path', SANDBOX_HOST_NODE, `${SANDBOX_HOST_NODE}/node`, v8PoolFlag(1), `${runtimeDir}/port/bridge.cjs`];
  }
  // the bridge only passes bytes on
  if (manifest.command) return ['/usr/bin/node', v8PoolFlag(1), `${runtimeDir}/port/bridge.cjs`];
  return runtimeArgvFor(manifest.runtime, runtimeDir, instanceVcpus(manifest.memoryMB));
}

/** Where the runtime finds its task root and run folder (sandbox paths unless a launcher says otherwise). */
export interface RuntimePaths {
  taskRoot: string;
  runDir: string;
}

/** What every function's process starts from: in the sandbox, and in an image `hivelab build` makes. */
export const BASE_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: '/tmp',
  TMPDIR: '/tmp',
  LANG: 'C.UTF-8',
  PYTHONDONTWRITEBYTECODE: '1',
  PYTHONUNBUFFERED: '1',
};

/**
 * glibc's malloc settings for the runtime.
 *
 * Every runtime: freed memory is kept for reuse instead of unmapped. An instance handed a 100 MB
 * object per invocation would otherwise fault in 25 600 fresh pages for each one, half the time of
 * an XDT get (bench/xdt-hops.mjs). The instance's memory limit still bounds it.
 *
 * Python handlers: one malloc arena (the main one) for every thread. The shim serves each connection
 * on a new thread, and glibc gives a thread the arena the last exited thread left, or the next one
 * when that is still held. A snapshot clone's first invocation then landed in whichever arena the
 * timing gave it: under 8 and more simultaneous cold starts, the thread of the worker's
 * `POST /_hivelab/restored` had not yet exited when the invocation's thread started, so the
 * invocation grew another arena than the recorded one and REAP declared a misprediction
 * (1254 faults outside the working set, json-serdes-python; BENCHMARKS.md). The GIL serialises the
 * shim's threads anyway, so one arena costs them little.
 */
function mallocTunables(m: FunctionManifest): string {
  const keep = 'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=268435456';
  return m.runtime === 'python' && !m.command ? `${keep}:glibc.malloc.arena_max=1` : keep;
}

/** The runtime's environment: nothing of the host's leaks in (in particular no NODE_EXTRA_CA_CERTS). */
export function runtimeEnv(
  spec: InstanceSpec,
  paths: RuntimePaths = { taskRoot: SANDBOX_TASK_ROOT, runDir: SANDBOX_RUN_DIR },
): Record<string, string> {
  const m = spec.manifest;
  const env: Record<string, string> = {
    ...BASE_ENV,
    GLIBC_TUNABLES: mallocTunables(m),
    // Lambda's variables (AWS_LAMBDA_FUNCTION_NAME, LAMBDA_TASK_ROOT, …) before the manifest's env,
    // so a function may set its own AWS_REGION.
    ...lambdaEnv(m, spec.instanceId, paths.taskRoot, SANDBOX_RUNTIME_DIR),
    ...m.env,
    HIVELAB_SOCKET: `${paths.runDir}/fn.sock`,
    HIVELAB_SIDECAR: `${paths.runDir}/qp.sock`,
    // gRPC calls to other functions: dial this with any gRPC client, the callee named by :authority
    // (`<fn>.default.svc.cluster.local`) or x-hivelab-function (xdt/sidecar/grpc-egress.ts).
    HIVELAB_GRPC_TARGET: `unix:${paths.runDir}/grpc.sock`,
    HIVELAB_HANDLER: m.handler ?? '',
    HIVELAB_FUNCTION: m.name,
    HIVELAB_INSTANCE: spec.instanceId,
    HIVELAB_MEMORY_MB: String(m.memoryMB),
    HIVELAB_TIMEOUT_MS: String(m.timeoutMs),
    HIVELAB_READY_FD: String(READY_FD),
    HIVELAB_TASK_ROOT: paths.taskRoot,
    ...spec.env,
  };
  if (m.command) {
    // Knative's runtime contract: the program listens on $PORT.
    env.PORT = String(m.port);
    env.HIVELAB_COMMAND = JSON.stringify(m.command);
  }
  if (m.image) env.HIVELAB_PROGRAM_ENV = JSON.stringify(imageProgramEnv(spec));
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/**
 * An image's program environment, handed to the port bridge, which starts the program with exactly
 * this (the bridge's own environment stays the platform's: an image's LD_PRELOAD or NODE_OPTIONS
 * reaches the image's program, not the bridge). Docker's default PATH, the image's Env, the
 * manifest's env, then the contract: PORT and Knative's K_SERVICE/K_CONFIGURATION/K_REVISION.
 */
export function imageProgramEnv(spec: InstanceSpec, runDir = SANDBOX_RUN_DIR): Record<string, string> {
  const m = spec.manifest;
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOSTNAME: sandboxHostname(spec.instanceId),
    ...m.image?.env,
    ...m.env,
    ...spec.env,
    PORT: String(m.port),
    K_SERVICE: m.name,
    K_CONFIGURATION: m.name,
    K_REVISION: `${m.name}-${spec.version ?? 'unversioned'}`,
    HIVELAB_FUNCTION: m.name,
    HIVELAB_INSTANCE: spec.instanceId,
    HIVELAB_SIDECAR: `${runDir}/qp.sock`,
  };
}

/** A hostname is at most 63 characters of [a-z0-9-]. */
export function sandboxHostname(instanceId: string): string {
  const h = instanceId.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63).replace(/^-+|-+$/g, '');
  return h || 'hivelab';
}


/** /tmp's size: half the instance's memory (its pages count against that memory), at least 16 MiB. */
export function tmpSizeBytes(memoryMB: number): number {
  return Math.max(16, Math.floor(memoryMB / 2)) * 1024 * 1024;
}

/** /dev/shm's size: a quarter of the memory, at least 4 MiB (Python's multiprocessing needs one). */
export function shmSizeBytes(memoryMB: number): number {
  return Math.max(4, Math.floor(memoryMB / 4)) * 1024 * 1024;
}

/** The host-skeleton root's entries: every mountpoint of the layout, and the merged-/usr symlinks. */
export function skeletonEntries(layout: SandboxLayout): SystemRoot[] {
  const dirs = [SANDBOX_TASK_ROOT, SANDBOX_RUNTIME_DIR, SANDBOX_RUN_DIR, '/tmp', '/proc', '/dev'];
  if (layout.nodeModulesDir) dirs.push(SANDBOX_NODE_MODULES);
  return [...layout.systemRoots, ...dirs.map((path) => ({ path, kind: 'dir' as const }))];
}

/**
 * Mountpoints an image's rootfs must hold (`prepareRootfs` in root.ts makes them before the start).
 * The platform's node_modules is never mounted into an image: the bridge uses node's builtins only.
 */
export function rootfsMountpoints(): string[] {
  return [SANDBOX_RUNTIME_DIR, SANDBOX_HOST_NODE, SANDBOX_RUN_DIR, '/tmp', '/proc', '/dev'];
}

/**
 * The launcher's spec for one instance. With `spec.rootfs` (an OCI image's unpacked root) the host's
 * system folders are not bound: the image brings its own /usr and /etc.
 */
export function buildSandboxSpec(input: LaunchInput, rootDir: string): SandboxSpec {
  const { spec, layout } = input;
  const ro = (src: string, dst: string) => ({ src, dst, readonly: true });
  const binds: SandboxSpec['binds'] = [];
  if (!spec.rootfs) for (const r of layout.systemRoots) if (r.kind === 'dir') binds.push(ro(r.path, r.path));
  // an image owns its /var/task (`hivelab build` puts the function there); the deploy folder beside
  // it holds only the function.json the platform reads on the host
  if (!spec.rootfs) binds.push(ro(spec.functionDir, SANDBOX_TASK_ROOT));
  binds.push(ro(layout.runtimeDir, SANDBOX_RUNTIME_DIR));
  if (spec.rootfs) {
    if (layout.hostNodeDir) binds.push(ro(layout.hostNodeDir, SANDBOX_HOST_NODE));
  } else if (layout.nodeModulesDir) binds.push(ro(layout.nodeModulesDir, SANDBOX_NODE_MODULES));
  // the run folder: fn.sock, qp.sock and offered uploads; on the host a small tmpfs of its own
  binds.push({ src: spec.runDir, dst: SANDBOX_RUN_DIR, readonly: false, noexec: true });
  const uid = spec.uid ?? SANDBOX_UID_BASE;
  const m = spec.manifest;
  return {
    cgroupProcsFiles: input.cgroupProcsFiles,
    root: spec.rootfs ?? rootDir,
    binds,
    tmpfs: [{ dst: '/tmp', sizeBytes: spec.tmpSizeBytes ?? tmpSizeBytes(m.memoryMB), mode: 0o1777 }],
    shmBytes: shmSizeBytes(m.memoryMB),
    hostname: sandboxHostname(spec.instanceId),
    uid,
    gid: spec.gid ?? uid,
    rlimits: input.rlimits ?? DEFAULT_RLIMITS,
    keepFd: READY_FD,
    // an image's WorkingDir (made in its root when the root was assembled)
    cwd: spec.rootfs ? (m.image?.workingDir ?? '/') : SANDBOX_TASK_ROOT,
    argv: input.runtimeArgv ?? instanceArgvFor(m),
    env: runtimeEnv(spec),
  };
}

function netstring(s: string): string {
  if (s.includes('\0')) throw new Error(`a NUL byte cannot reach the sandbox: ${JSON.stringify(s.slice(0, 40))}`);
  return `${Buffer.byteLength(s)}:${s},`;
}

/** The spec as hivelab-sandbox reads it: netstrings, a key and its fields (native/sandbox/src/spec.c). */
export function encodeSandboxSpec(s: SandboxSpec): Buffer {
  const items: string[] = [];
  const rec = (...fields: (string | number)[]) => items.push(...fields.map(String));
  for (const f of s.cgroupProcsFiles) rec('cgroup', f);
  rec('root', s.root);
  for (const b of s.binds) rec('bind', b.src, b.dst, [b.readonly ? 'ro' : 'rw', ...(b.noexec ? ['noexec'] : [])].join(','));
  for (const t of s.tmpfs) rec('tmpfs', t.dst, t.sizeBytes, t.mode.toString(8), t.noexec ? 'noexec' : '');
  rec('shm', s.shmBytes, 'hostname', s.hostname, 'uid', s.uid, 'gid', s.gid);
  rec('rlimit', 'nofile', s.rlimits.nofile, 'rlimit', 'fsize', s.rlimits.fsizeBytes, 'rlimit', 'core', s.rlimits.core);
  if (s.keepFd !== undefined) rec('keep-fd', s.keepFd);
  rec('cwd', s.cwd);
  for (const a of s.argv) rec('arg', a);
  for (const [k, v] of Object.entries(s.env)) rec('env', `${k}=${v}`);
  return Buffer.from(items.map(netstring).join(''), 'utf8');
}

/** hivelab-sandbox's exit codes for its own failures (native/sandbox/src/main.c, enum step). */
export const LAUNCHER_EXIT_STEPS: Record<number, string> = {
  2: 'usage',
  110: 'reading the spec',
  111: 'joining the cgroups',
  112: 'creating the namespaces',
  113: 'building the mounts',
  114: 'pivot_root',
  115: 'loopback/hostname',
  116: 'rlimits/session/parent-death',
  117: 'switching to the function uid',
  118: 'dropping capabilities',
  119: 'installing seccomp',
  120: 'closing descriptors',
  121: 'exec of the runtime',
};

/** The launcher step a start failed in, from its exit code (undefined: the runtime itself exited). */
export function launcherStep(code: number | null): string | undefined {
  return code === null ? undefined : LAUNCHER_EXIT_STEPS[code];
}
