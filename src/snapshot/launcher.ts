import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeSandboxSpec, type SandboxSpec } from '../sandbox/launch.js';
import { SANDBOX_LAUNCHER } from '../sandbox/root.js';

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

/** The netstrings that tell the launcher to set no parent-death signal (native/sandbox/src/spec.c). */
const NO_PDEATHSIG = '9:pdeathsig,1:0,';

/**
 * Pure: the spec hivelab-sandbox reads for a snapshot instance: the boot spec (`buildSandboxSpec`)
 * without the readiness pipe, plus `pdeathsig 0`.
 */
export function encodeSnapshotSpec(spec: SandboxSpec): Buffer {
  const { keepFd: _readyPipe, ...rest } = spec;
  const env = { ...spec.env };
  delete env.HIVELAB_READY_FD;
  return Buffer.concat([encodeSandboxSpec({ ...rest, env }), Buffer.from(NO_PDEATHSIG)]);
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
 * is the runtime's business, e.g. its socket accepting). The launcher joins the spec's cgroups
 * before it creates the sandbox, so every page is charged to the instance from the start.
 */
export async function launchForSnapshot(spec: SandboxSpec, launcherPath = SANDBOX_LAUNCHER): Promise<LaunchedInstance> {
  const encoded = encodeSnapshotSpec(spec);
  // An empty environment: nothing of the worker's (or a manifest's) reaches host-side programs.
  const launcher = spawn('/bin/sh', ['-c', WRAPPER, 'hivelab-snapshot-launch', launcherPath, '--spec-fd', '3'], {
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
