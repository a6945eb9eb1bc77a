/**
 * A service child process the platform owns and supervises: started, probed until ready (or failed
 * with its stderr tail), restarted with exponential back-off whenever it exits without being asked
 * to (every crash is reported, never silent), and stopped with SIGTERM then SIGKILL. Its state is
 * what `hivelab status` and the dashboard show for the data services.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { restartDelayMs } from './backoff.js';

export class ServiceCrashedError extends Error {
  constructor(service: string, detail: string) {
    super(`${service} crashed: ${detail}`);
    this.name = 'ServiceCrashedError';
  }
}

export type ServiceState = 'running' | 'restarting' | 'stopped';

export interface ServiceStatus {
  name: string;
  state: ServiceState;
  pid: number | null;
  /** restarts after crashes since the platform started */
  restarts: number;
  lastCrash: string | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** true while the process is down after a crash (being restarted) */
  readonly crashed: boolean;
  status(): ServiceStatus;
  stop(): Promise<void>;
}

export interface ManagedProcessOptions {
  name: string;
  command: string;
  args: string[];
  spawn?: SpawnOptions;
  /** written to the child's stdin, then closed: how secrets reach it (never argv, never env) */
  stdin?: string;
  /** a line the child prints once it serves: the probe counts only after it (the port may be another's) */
  readyLine?: string;
  /** resolves once the service answers; polled until `readyTimeoutMs` */
  probe: () => Promise<boolean>;
  readyTimeoutMs?: number;
  onCrash?: (err: ServiceCrashedError) => void;
  /** called once a crashed service answers again */
  onRestart?: (name: string, restarts: number) => void;
}

interface Run {
  child: ChildProcess;
  exited: Promise<void>;
  hasExited: () => boolean;
  tail: () => string;
  printedReady: () => boolean;
}

/**
 * util-linux's setpriv sets a parent-death signal and execs the service (same PID): a platform
 * killed with SIGKILL takes its services with it instead of leaving them running with their
 * passwords and data. Node cannot set one itself.
 */
const SETPRIV = '/usr/bin/setpriv';
const withParentDeath = (command: string, args: string[]): [string, string[]] =>
  existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, args];

function launch(opts: ManagedProcessOptions, onExit: (code: number | null, signal: string | null) => void): Run {
  const [command, args] = withParentDeath(opts.command, opts.args);
  const child = spawn(command, args, { stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...opts.spawn });
  if (opts.stdin !== undefined) {
    child.stdin?.on('error', () => {}); // a child that dies at once: its exit is reported below
    child.stdin?.end(opts.stdin);
  }
  let tail = '';
  let printedReady = opts.readyLine === undefined;
  const keep = (d: Buffer) => {
    tail = (tail + d.toString('utf8')).slice(-4000);
    if (!printedReady) printedReady = tail.split('\n').some((line) => line.trim() === opts.readyLine);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exitedP = new Promise<void>((resolve) => {
    const done = (code: number | null, signal: string | null) => {
      if (exited) return;
      exited = true;
      onExit(code, signal);
      resolve();
    };
    child.once('exit', done);
    child.once('error', () => done(null, 'spawn-error'));
  });
  return { child, exited: exitedP, hasExited: () => exited, tail: () => tail, printedReady: () => printedReady };
}

async function waitReady(opts: ManagedProcessOptions, run: Run): Promise<void> {
  const limit = opts.readyTimeoutMs ?? 20_000;
  const deadline = Date.now() + limit;
  for (;;) {
    if (run.hasExited()) throw new ServiceCrashedError(opts.name, `exited during start-up: ${run.tail().trim().slice(-1000)}`);
    if (run.printedReady() && (await opts.probe().catch(() => false))) return;
    if (Date.now() > deadline) throw new ServiceCrashedError(opts.name, `not ready after ${limit} ms: ${run.tail().trim().slice(-1000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startManagedProcess(opts: ManagedProcessOptions): Promise<ManagedProcess> {
  let stopping = false;
  let state: ServiceState = 'running';
  let restarts = 0;
  let failuresInARow = 0;
  let lastCrash: string | null = null;
  let retry: NodeJS.Timeout | undefined;
  let current: Run;
  /** runs given up on (a start that never answered): their exit must not schedule another restart */
  const abandoned = new WeakSet<Run>();

  const kill = async (run: Run): Promise<void> => {
    if (run.hasExited()) return;
    run.child.kill('SIGTERM');
    const t = setTimeout(() => run.child.kill('SIGKILL'), 5000);
    await run.exited;
    clearTimeout(t);
  };

  const onExit = (run: () => Run) => (code: number | null, signal: string | null) => {
    if (stopping || abandoned.has(run())) return;
    state = 'restarting';
    lastCrash = `exit ${code ?? signal}; ${run().tail().trim().slice(-500)}`;
    opts.onCrash?.(new ServiceCrashedError(opts.name, lastCrash));
    scheduleRestart();
  };

  const scheduleRestart = (): void => {
    if (stopping) return;
    const delay = restartDelayMs(failuresInARow++);
    retry = setTimeout(() => {
      retry = undefined;
      if (stopping) return;
      let next: Run;
      const self = () => next;
      next = launch(opts, onExit(self));
      current = next;
      waitReady(opts, next).then(
        () => {
          if (stopping) return;
          state = 'running';
          restarts++;
          failuresInARow = 0;
          opts.onRestart?.(opts.name, restarts);
        },
        async (err: Error) => {
          lastCrash = err.message;
          // a start that failed without exiting: kill it; its exit then schedules the next try
          if (!next.hasExited()) {
            abandoned.add(next);
            await kill(next);
            scheduleRestart();
          }
        },
      );
    }, delay);
    retry.unref();
  };

  let first: Run;
  const self = () => first;
  first = launch(opts, onExit(self));
  current = first;
  try {
    await waitReady(opts, first);
  } catch (err) {
    stopping = true;
    await kill(first);
    throw err;
  }

  return {
    name: opts.name,
    get child() {
      return current.child;
    },
    get crashed() {
      return state === 'restarting';
    },
    status: () => ({ name: opts.name, state, pid: state === 'running' ? (current.child.pid ?? null) : null, restarts, lastCrash }),
    async stop() {
      stopping = true;
      state = 'stopped';
      if (retry) clearTimeout(retry);
      await kill(current);
    },
  };
}
