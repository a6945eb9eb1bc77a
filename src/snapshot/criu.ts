import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where CRIU lives and how we run it. CRIU is built by scripts/setup-criu.sh into .cache/criu/
 * (Debian bookworm's 3.17 cannot parse this kernel's vDSO); HIVELAB_CRIU points elsewhere.
 */

export const CRIU_VERSION = '4.1.1';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Where our CRIU build keeps its kerndat cache (scripts/setup-criu.sh builds it with this RUNDIR).
 * Without the cache CRIU probes the kernel on every dump and restore: 20-40 ms of each restore here.
 */
export const KERNDAT_DIR = '/dev/shm/hivelab-criu';

let kerndatDirReady = false;

/**
 * Makes sure the kerndat folder is root's own (a 0700 directory, not a link). /dev/shm is
 * world-writable: a folder someone else made there first could feed CRIU forged kernel facts, so one
 * that is not ours is moved aside and made afresh. Any failure leaves CRIU without its cache, which
 * costs time, never correctness.
 */
export function ensureKerndatDir(dir = KERNDAT_DIR): void {
  try {
    const st = lstatSync(dir, { throwIfNoEntry: false });
    const ours = st?.isDirectory() === true && st.uid === 0 && (st.mode & 0o777) === 0o700;
    if (st && !ours) renameSync(dir, `${dir}.untrusted-${process.pid}-${Date.now()}`);
    if (!ours) mkdirSync(dir, { mode: 0o700 });
  } catch {
    // not root, or no /dev/shm: CRIU probes the kernel each time
  }
}

/** Absolute path of the CRIU binary (env HIVELAB_CRIU overrides the set-up script's build). */
export function criuBinary(): string {
  if (!kerndatDirReady) {
    kerndatDirReady = true;
    ensureKerndatDir();
  }
  return process.env.HIVELAB_CRIU ?? path.join(repoRoot, '.cache', 'criu', `criu-${CRIU_VERSION}`, 'criu', 'criu');
}

/**
 * CRIU's name for an instance's network namespace: dumps declare it external under this key and
 * every restore hands CRIU a fresh namespace for it (restore.ts).
 */
export const NETNS_EXTERNAL_KEY = 'instance-net';

/** Why snapshots cannot work here, or null when CRIU is built and usable. */
export function criuUnavailableReason(): string | null {
  const bin = criuBinary();
  if (!existsSync(bin)) return `CRIU binary not found at ${bin} (run scripts/setup-criu.sh)`;
  if (process.getuid?.() !== 0) return 'CRIU needs root (namespaces, ptrace, userfaultfd)';
  return null;
}

/** The version string CRIU reports, e.g. `4.1.1`. */
export async function criuVersion(): Promise<string> {
  const out = await run(['--version']);
  const m = /Version:\s*(\S+)/.exec(out.stdout);
  if (!m) throw new Error(`cannot parse CRIU version from: ${out.stdout.trim()}`);
  return m[1]!;
}

export class CriuError extends Error {
  constructor(
    message: string,
    /** Tail of CRIU's log file: the lines that say why. */
    readonly logTail: string,
  ) {
    super(logTail ? `${message}\n${logTail}` : message);
    this.name = 'CriuError';
  }
}

/** The last error lines of a CRIU log, for error messages a person can act on. */
export function criuLogTail(logFile: string, lines = 12): string {
  if (!existsSync(logFile)) return '';
  const all = readFileSync(logFile, 'utf8').split('\n');
  // The RLIMIT_NOFILE complaint appears on every run here and is harmless.
  const errors = all.filter((l) => /Error|Warn/.test(l) && !/RLIMIT_NOFILE/.test(l));
  return (errors.length ? errors : all).slice(-lines).join('\n');
}

/**
 * Runs CRIU to completion (dump, check, --version); with `namespacesOf`, inside that process's IPC
 * and UTS namespaces (nsenter execs CRIU in its own place: a deadline's SIGKILL still reaches CRIU).
 */
export function run(args: string[], opts: { timeoutMs?: number; namespacesOf?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  const [file, argv] = opts.namespacesOf ? ['nsenter', [`--target=${opts.namespacesOf}`, '--ipc', '--uts', '--', criuBinary(), ...args]] : [criuBinary(), args];
  return new Promise((resolve, reject) => {
    execFile(file, argv, { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 << 20, env: cleanEnv(), killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stdout, stderr }));
      else resolve({ stdout, stderr });
    });
  });
}

/**
 * CRIU's compel stops the parasite and the restorer at their final sigreturn with a hardware
 * breakpoint set through ptrace. On some hosts (AMD EPYC Zen 5 VMs) those never fire and CRIU waits
 * in wait4 forever. `CRIU_FAULT=130` is CRIU's own switch to stop on the syscall with
 * PTRACE_SYSCALL instead, which works everywhere; `HIVELAB_CRIU_BREAKPOINTS=1` goes back to
 * breakpoints where they are known to work.
 */
export function criuFaultEnv(): Record<string, string> {
  return process.env.HIVELAB_CRIU_BREAKPOINTS === '1' ? {} : { CRIU_FAULT: '130' };
}

/** The environment for processes we checkpoint or measure: NODE_EXTRA_CA_CERTS costs 34 ms per start. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...criuFaultEnv(), ...extra };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_OPTIONS;
  return env;
}
