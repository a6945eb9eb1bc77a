import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { cleanEnv } from './criu.js';
import { joinCgroupsScript } from '../sandbox/cgroup.js';

/**
 * The snapshot launcher: starts an instance the way CRIU can checkpoint and restore it.
 *
 * Why not the bubblewrap sandbox: bwrap builds a fresh mount namespace out of a dozen bind mounts
 * over a tmpfs root; CRIU would need every one of them declared as an external mount on dump and
 * re-supplied on restore, and restores of one image side by side would fight over them. An
 * `unshare --pid --net --ipc --uts --fork` instance keeps the host's mount namespace (nothing for
 * CRIU to dump there) and still gives: its own PID namespace (the runtime is PID 1, so a restore can
 * reuse PID 1 next to other clones), no network but loopback, private SysV IPC and hostname, and the
 * memory cgroup limit. What it gives up: the read-only /var/task view (the function folder is read
 * by its host path; the worker's deployed copy is never written by the platform). See README.md.
 *
 * `setsid` makes the runtime its own session leader: CRIU refuses a tree whose session leader lives
 * outside its PID namespace. A new network namespace starts with loopback down: `ip link set lo up`
 * before the runtime starts (restores do the same, scripts/criu-loopback-up.sh).
 */

export interface SnapshotLaunchSpec {
  /** The runtime's argv, e.g. `['/usr/bin/node', '/opt/.../shim.js']`. */
  argv: string[];
  env: Record<string, string>;
  cwd: string;
}

const CLOSE_INHERITED_FDS = 'for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done;';
// The launcher joins the instance's cgroups (the arguments up to `--`) before anything else.
const JOIN_CGROUPS = joinCgroupsScript('hivelab snapshot launcher').join('\n');

/**
 * Pure: the host command that starts `spec` in its own namespaces. The runtime's stdout and stderr
 * go into one real pipe read by `cat` outside the instance: CRIU can dump a pipe and, on restore,
 * graft a new one in its place (`--inherit-fd`), whereas Node's stdio "pipes" are socketpairs CRIU
 * refuses as external sockets, and a log file must not change size between dump and restore.
 */
export function buildSnapshotLaunchArgs(spec: SnapshotLaunchSpec, cgroupProcs: string[] = []): { file: string; args: string[] } {
  if (spec.argv.length === 0) throw new Error('snapshot launcher: empty argv');
  // sh, then setsid, then the runtime: each execs the next, so the runtime stays PID 1
  const unshare = ['unshare', '--pid', '--net', '--ipc', '--uts', '--fork', '/bin/sh', '-c', `'ip link set lo up && exec setsid "$0" "$@"'`];
  return {
    file: '/bin/bash',
    // Close every inherited descriptor above stderr first: a stray one (a parent's pipe without
    // CLOEXEC) would become part of the snapshot and need a stand-in on every restore.
    args: ['-c', `${CLOSE_INHERITED_FDS}\n${JOIN_CGROUPS}\n${unshare.join(' ')} "$@" 2>&1 | cat`, 'hivelab-snapshot-launcher', ...cgroupProcs, '--', ...spec.argv],
  };
}

export interface LaunchedInstance {
  /** Host PID of the runtime (PID 1 of the instance's PID namespace): what CRIU dumps. */
  pid: number;
  /** The `unshare` parent; it exits when the runtime does. */
  launcher: ChildProcess;
  /** The runtime's stdout and stderr, interleaved (forwarded by `cat`). */
  output: NodeJS.ReadableStream;
  /** Settles when the launcher exits (the instance is gone). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL to the runtime; the PID namespace dies with its PID 1. */
  kill(): void;
}

/**
 * Starts the instance and resolves once its PID-1 runtime exists (not once it is ready: readiness is
 * the runtime's business, e.g. its socket accepting). `cgroupProcs`: `cgroup.procs` files the
 * runtime starts in (e.g. `InstanceCgroup.procsFiles` of src/sandbox/cgroup.ts).
 */
export async function launchForSnapshot(spec: SnapshotLaunchSpec, cgroupProcs: string[] = []): Promise<LaunchedInstance> {
  const { file, args } = buildSnapshotLaunchArgs(spec, cgroupProcs);
  const launcher = spawn(file, args, { cwd: spec.cwd, env: cleanEnv(spec.env), stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    launcher.once('exit', (code, signal) => resolve({ code, signal }));
    launcher.once('error', () => resolve({ code: null, signal: null }));
  });
  const pid = await findChild(launcher, exited);
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

/** The runtime is the child of the `unshare` that the launcher shell forked. */
async function findChild(launcher: ChildProcess, exited: Promise<unknown>): Promise<number> {
  let gone = false;
  void exited.then(() => (gone = true));
  for (let i = 0; i < 2000 && !gone; i++) {
    if (launcher.pid) {
      for (const c of await childrenOf(launcher.pid)) {
        const comm = (await readFile(`/proc/${c}/comm`, 'utf8').catch(() => '')).trim();
        if (comm !== 'unshare') continue;
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
