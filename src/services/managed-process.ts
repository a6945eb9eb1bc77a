/**
 * A service child process the platform owns: started, probed until ready (or failed with its stderr
 * tail), watched for crashes (an exit the platform did not ask for is reported, never silent), and
 * stopped with SIGTERM then SIGKILL.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export class ServiceCrashedError extends Error {
  constructor(service: string, detail: string) {
    super(`${service} crashed: ${detail}`);
    this.name = 'ServiceCrashedError';
  }
}

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** true once the process exited without stop() being called */
  readonly crashed: boolean;
  stop(): Promise<void>;
}

export async function startManagedProcess(opts: {
  name: string;
  command: string;
  args: string[];
  spawn?: SpawnOptions;
  /** written to the child's stdin, then closed: how secrets reach it (never argv, never env) */
  stdin?: string;
  /** resolves once the service answers; polled until `readyTimeoutMs` */
  probe: () => Promise<boolean>;
  readyTimeoutMs?: number;
  onCrash?: (err: ServiceCrashedError) => void;
}): Promise<ManagedProcess> {
  const child = spawn(opts.command, opts.args, { stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...opts.spawn });
  if (opts.stdin !== undefined) {
    child.stdin?.on('error', () => {}); // a child that dies at once: its exit is reported below
    child.stdin?.end(opts.stdin);
  }
  let tail = '';
  const keep = (d: Buffer) => {
    tail = (tail + d.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let stopping = false;
  let exited = false;
  let crashed = false;
  const exitedP = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      if (!stopping) {
        crashed = true;
        opts.onCrash?.(new ServiceCrashedError(opts.name, `exit ${code ?? signal}; ${tail.trim().slice(-500)}`));
      }
      resolve();
    });
    child.once('error', () => {
      exited = true;
      crashed = !stopping;
      resolve();
    });
  });

  const stop = async () => {
    if (exited) return;
    stopping = true;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exitedP;
    clearTimeout(t);
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
  for (;;) {
    if (exited) throw new ServiceCrashedError(opts.name, `exited during start-up: ${tail.trim().slice(-1000)}`);
    if (await opts.probe().catch(() => false)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new ServiceCrashedError(opts.name, `not ready after ${opts.readyTimeoutMs ?? 20_000} ms: ${tail.trim().slice(-1000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    name: opts.name,
    child,
    get crashed() {
      return crashed;
    },
    stop,
  };
}
