import { lstatSync, readlinkSync } from 'node:fs';
import type { FunctionManifest, Runtime } from '../manifest/schema.js';
import type { InstanceSpec } from './backend.js';
import { joinCgroupsScript } from './cgroup.js';

/**
 * How an instance's process tree is launched, as pure data, so the CRIU snapshot backend can reuse
 * or adapt it. The tree on the host is:
 *
 *   /bin/sh (joins the instance cgroups, sets rlimits) ─exec→ bwrap (stays in the host PID namespace,
 *   waits, reports the exit status) ─clone(new pid/mnt/net/ipc/uts ns)→ runtime = PID 1 of its namespace
 *
 * `--as-pid-1` makes the runtime itself the namespace's init (no bwrap reaper inside), which is
 * what CRIU needs as the root of a dumped tree. No user namespace: CRIU was verified here without one.
 * Every mount is listed below; nothing else of the host is visible inside.
 */

export const SANDBOX_TASK_ROOT = '/var/task';
export const SANDBOX_RUN_DIR = '/run/hivelab';
export const SANDBOX_RUNTIME_DIR = '/opt/hivelab/runtime';
export const SANDBOX_NODE_MODULES = '/node_modules';
export const READY_FD = 3;

/** Host folders the sandbox needs besides the instance's own. */
export interface SandboxLayout {
  /** Host path of `dist/runtime` (the compiled shims). */
  runtimeDir: string;
  /** Host path of the platform's node_modules (omitted: not mounted). */
  nodeModulesDir?: string;
  /** How the host's top-level system folders look: real folders are bound, symlinks recreated. */
  systemRoots: SystemRoot[];
}

export type SystemRoot = { path: string; kind: 'dir' } | { path: string; kind: 'symlink'; target: string };

export interface Rlimits {
  nofile: number;
  /** Largest file the instance may write, bytes. */
  fsizeBytes: number;
  core: number;
}

export const DEFAULT_RLIMITS: Rlimits = { nofile: 4096, fsizeBytes: 1024 * 1024 * 1024, core: 0 };

export interface LaunchInput {
  spec: InstanceSpec;
  layout: SandboxLayout;
  /** cgroup.procs files the launcher joins before exec'ing bwrap (may be empty). */
  cgroupProcsFiles: string[];
  rlimits?: Rlimits;
  /** The command run inside the sandbox; default: the runtime shim for the manifest's runtime. */
  runtimeArgv?: string[];
  bwrapPath?: string;
}

export interface LaunchPlan {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Arguments of bwrap alone (without the launcher), e.g. for a snapshot backend's own launcher. */
  bwrapArgs: string[];
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
 * runtime: /opt/hivelab/runtime inside the bwrap sandbox; a launcher without a mount namespace
 * passes the host's `dist/runtime`.
 */
export function runtimeArgvFor(runtime: Runtime, runtimeDir = SANDBOX_RUNTIME_DIR): string[] {
  switch (runtime) {
    case 'node':
      return ['/usr/bin/node', `${runtimeDir}/node/shim.cjs`];
    case 'python':
      // Debian's interpreter (with python3-numpy etc.), not a pyenv shim.
      return ['/usr/bin/python3', `${runtimeDir}/python/shim.py`];
  }
}

/**
 * The instance's main process: the runtime shim for a handler, or the port bridge
 * (src/runtime/port/bridge.cts) that runs a server program (`command`) and passes the platform's
 * socket through to its port.
 */
export function instanceArgvFor(manifest: FunctionManifest, runtimeDir = SANDBOX_RUNTIME_DIR): string[] {
  if (manifest.command) return ['/usr/bin/node', `${runtimeDir}/port/bridge.cjs`];
  return runtimeArgvFor(manifest.runtime, runtimeDir);
}

/** Where the runtime finds its task root and run folder (sandbox paths unless a launcher says otherwise). */
export interface RuntimePaths {
  taskRoot: string;
  runDir: string;
}

/** The runtime's environment: nothing of the host's leaks in (in particular no NODE_EXTRA_CA_CERTS). */
export function runtimeEnv(
  spec: InstanceSpec,
  paths: RuntimePaths = { taskRoot: SANDBOX_TASK_ROOT, runDir: SANDBOX_RUN_DIR },
): Record<string, string> {
  const m = spec.manifest;
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: '/tmp',
    TMPDIR: '/tmp',
    LANG: 'C.UTF-8',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
    // glibc's malloc keeps freed memory for reuse instead of unmapping it: an instance handed a
    // 100 MB object per invocation would otherwise fault in 25 600 fresh pages for each one, half
    // the time of an XDT get (bench/xdt-hops.mjs). The instance's memory limit still bounds it.
    GLIBC_TUNABLES: 'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=268435456',
    ...m.env,
    HIVELAB_SOCKET: `${paths.runDir}/fn.sock`,
    HIVELAB_SIDECAR: `${paths.runDir}/qp.sock`,
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
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** A hostname is at most 63 characters of [a-z0-9-]. */
export function sandboxHostname(instanceId: string): string {
  const h = instanceId.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63).replace(/^-+|-+$/g, '');
  return h || 'hivelab';
}

export function buildBwrapArgs(input: LaunchInput): string[] {
  const { spec, layout } = input;
  const args = [
    '--unshare-pid',
    '--unshare-net', // bwrap brings up `lo` only
    '--unshare-ipc',
    '--unshare-uts',
    '--hostname',
    sandboxHostname(spec.instanceId),
    '--as-pid-1',
    '--die-with-parent',
    '--new-session', // no TIOCSTI into a host terminal
    '--cap-drop',
    'ALL',
  ];
  for (const root of layout.systemRoots) {
    if (root.kind === 'symlink') args.push('--symlink', root.target, root.path);
    else args.push('--ro-bind', root.path, root.path);
  }
  if (layout.systemRoots.some((r) => r.path === '/etc' && r.kind === 'dir')) {
    // The runtime is uid 0 (without capabilities): hide the password hashes it could otherwise read.
    args.push('--ro-bind-try', '/dev/null', '/etc/shadow', '--ro-bind-try', '/dev/null', '/etc/gshadow');
  }
  args.push(
    '--proc', '/proc', // bwrap also remounts /proc/sys, /proc/sysrq-trigger, /proc/irq, /proc/bus read-only
    '--dev', '/dev',
    '--perms', '1777',
    '--size', String(spec.manifest.memoryMB * 1024 * 1024), // tmpfs pages are charged to the memory cgroup anyway
    '--tmpfs', '/tmp',
    '--ro-bind', spec.functionDir, SANDBOX_TASK_ROOT,
    '--bind', spec.runDir, SANDBOX_RUN_DIR,
    '--ro-bind', layout.runtimeDir, SANDBOX_RUNTIME_DIR,
  );
  if (layout.nodeModulesDir) args.push('--ro-bind', layout.nodeModulesDir, SANDBOX_NODE_MODULES);
  args.push('--chdir', SANDBOX_TASK_ROOT, '--', ...(input.runtimeArgv ?? instanceArgvFor(spec.manifest)));
  return args;
}

/**
 * The launcher: a POSIX sh that moves itself into the instance cgroups and sets rlimits, then execs
 * bwrap, so the runtime is charged and limited from its very first instruction. (dash starts in
 * about a millisecond; exit code 97 means joining a cgroup failed.)
 */
const LAUNCHER = [
  ...joinCgroupsScript('hivelab launcher'),
  'ulimit -n "$HL_NOFILE" && ulimit -c "$HL_CORE" && ulimit -f "$HL_FSIZE_BLOCKS" || exit 98',
  'unset HL_NOFILE HL_CORE HL_FSIZE_BLOCKS',
  'exec "$@"',
].join('\n');

export function buildLaunch(input: LaunchInput): LaunchPlan {
  const rl = input.rlimits ?? DEFAULT_RLIMITS;
  const bwrapArgs = buildBwrapArgs(input);
  const env = {
    ...runtimeEnv(input.spec),
    HL_NOFILE: String(rl.nofile),
    HL_CORE: String(rl.core),
    HL_FSIZE_BLOCKS: String(Math.floor(rl.fsizeBytes / 512)), // sh's ulimit -f counts 512-byte blocks
  };
  return {
    command: '/bin/sh',
    args: ['-c', LAUNCHER, 'hivelab-launch', ...input.cgroupProcsFiles, '--', input.bwrapPath ?? '/usr/bin/bwrap', ...bwrapArgs],
    env,
    bwrapArgs,
  };
}
