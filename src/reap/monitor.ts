import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { criuDeadlineMs, withDeadline } from '../snapshot/deadline.js';

/**
 * The REAP monitor, as the worker sees it: one small native helper process per restoring instance
 * (native/reap-monitor, built by scripts/setup-native.sh). It is the lazy-pages daemon CRIU hands the
 * instance's userfaultfd to; its fault loop runs in that process, never on our event loop.
 *
 * Death: a lazily restored instance blocks forever on its next missing page once the monitor is
 * gone. The worker learns of the death from `exited` (a child exit it did not ask for) and must then
 * kill the instance: `restoreInstance` in src/snapshot/restore.ts does exactly that.
 */

export type MonitorMode = 'lazy' | 'record' | 'prefetch';

/** Per-restore figures (thesis fig. 5.3's breakdown). */
export interface MonitorStats {
  /** Pages in the working set (recorded, or read for prefetch). */
  wsPages: number;
  /** Pages installed ahead of the instance's first touch. */
  prefetched: number;
  /** Pages served on demand, one fault each (includes zero pages). */
  onDemand: number;
  zeroPages: number;
  faults: number;
  /** Bytes read from the snapshot: the working-set file plus single pages. */
  bytesRead: number;
  /** Time to read (and checksum) the working-set file, ms. */
  fetchMs: number;
  /** The working-set file's O_DIRECT read alone, ms (fetchMs adds trace, buffer and checksum). */
  readMs: number;
  /** Time to install the working set with UFFDIO_COPY, ms. */
  installMs: number;
  wsInstalled: boolean;
  /** File-backed ranges given to readahead(2), their bytes, and the time to queue them (ms). */
  fileRanges: number;
  fileBytes: number;
  fileMs: number;
  /** Userfaultfds served now (one per live address space: restored tasks, children forked since). */
  spaces: number;
  /** Userfaultfds dropped because their task exited (the others are served on). */
  spacesGone: number;
}

export interface MonitorOptions {
  mode: MonitorMode;
  /** Where CRIU will look for `lazy-pages.socket`: the restore's work directory. */
  workDir: string;
  /** The page-map index (src/snapshot/images.ts `writePageMapIndex`). */
  pageMapIndex: string;
  /** The snapshot's CRIU images: each task's pages-N.img (the index names N per task). */
  imagesDir: string;
  /** record: written; prefetch: read. */
  traceFile?: string;
  wsFile?: string;
  /** prefetch: file-backed ranges to read ahead (src/reap/file-pages.ts). */
  filePagesFile?: string;
  /** Longest the helper may take to listen (default: the CRIU deadline floor, src/snapshot/deadline.ts). */
  startDeadlineMs?: number;
}

export const LAZY_PAGES_SOCKET = 'lazy-pages.socket';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Path of the helper binary (env HIVELAB_REAP_MONITOR overrides). */
export function monitorBinary(): string {
  return process.env.HIVELAB_REAP_MONITOR ?? path.join(repoRoot, 'native', 'reap-monitor', 'build', 'Release', 'reap-monitor');
}

export function monitorUnavailableReason(): string | null {
  const bin = monitorBinary();
  return existsSync(bin) ? null : `REAP monitor not built at ${bin} (run scripts/setup-native.sh)`;
}

interface MonitorEvent {
  event: string;
  message?: string;
  [k: string]: unknown;
}

function toStats(e: MonitorEvent): MonitorStats {
  const n = (k: string) => Number(e[k] ?? 0);
  return {
    wsPages: n('wsPages'),
    prefetched: n('prefetched'),
    onDemand: n('onDemand'),
    zeroPages: n('zeroPages'),
    faults: n('faults'),
    bytesRead: n('bytesRead'),
    fetchMs: n('fetchUs') / 1000,
    installMs: n('installUs') / 1000,
    readMs: n('readUs') / 1000,
    wsInstalled: e.wsInstalled === true,
    fileRanges: n('fileRanges'),
    fileBytes: n('fileBytes'),
    fileMs: n('fileUs') / 1000,
    spaces: n('spaces'),
    spacesGone: n('spacesGone'),
  };
}

export class ReapMonitor {
  /** Settles when the helper exits; `expected` is false when it died on its own (crash, kill). */
  readonly exited: Promise<{ expected: boolean; code: number | null; signal: NodeJS.Signals | null }>;
  /** Set when the prefetch phase refused the working set (checksum, size): then every page is served lazily. */
  wsInvalidReason: string | null = null;
  /** Errors the helper reported (it keeps serving when it can). */
  readonly errors: string[] = [];
  private stopping = false;
  private waiters = new Map<string, Array<{ resolve: (e: MonitorEvent) => void; reject: (err: Error) => void }>>();
  private lastRestored: MonitorEvent | null = null;
  private listeners: Array<(event: string) => void> = [];

  private constructor(
    readonly options: MonitorOptions,
    private readonly child: ChildProcess,
  ) {
    // The helper may exit between our check and a write (instance-exited): EPIPE is not an error then.
    child.stdin!.on('error', () => undefined);
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => this.onLine(line));
    this.exited = new Promise((resolve) => {
      // 'close', not 'exit': by then every line it printed (e.g. instance-exited) has been read.
      child.once('close', (code, signal) => {
        const expected = this.stopping;
        for (const list of this.waiters.values()) for (const w of list) w.reject(new Error(`REAP monitor exited (code ${code}, signal ${signal})${this.errors.length ? `: ${this.errors.join('; ')}` : ''}`));
        this.waiters.clear();
        resolve({ expected, code, signal });
      });
    });
  }

  /** Starts the helper and resolves once `lazy-pages.socket` accepts (CRIU may be started then). */
  static async start(options: MonitorOptions): Promise<ReapMonitor> {
    const reason = monitorUnavailableReason();
    if (reason) throw new Error(reason);
    if (options.mode !== 'lazy' && (!options.traceFile || !options.wsFile)) {
      throw new Error(`REAP monitor: mode ${options.mode} needs traceFile and wsFile`);
    }
    await mkdir(options.workDir, { recursive: true });
    const args = ['--socket', path.join(options.workDir, LAZY_PAGES_SOCKET), '--page-map', options.pageMapIndex, '--images', options.imagesDir, '--mode', options.mode];
    if (options.traceFile) args.push('--trace', options.traceFile);
    if (options.wsFile) args.push('--ws', options.wsFile);
    if (options.filePagesFile) args.push('--file-pages', options.filePagesFile);
    const child = spawn(monitorBinary(), args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const monitor = new ReapMonitor(options, child);
    // Bounded: CRIU is started only once the monitor listens, so nothing else would notice a hang.
    await withDeadline(monitor.next('listening'), 'monitor start', options.startDeadlineMs ?? criuDeadlineMs(), () => monitor.kill(), `REAP monitor (PID ${child.pid}) never listened; killed`);
    return monitor;
  }

  get pid(): number {
    return this.child.pid!;
  }

  private onLine(line: string): void {
    let e: MonitorEvent;
    try {
      e = JSON.parse(line) as MonitorEvent;
    } catch {
      this.errors.push(`unparsable monitor output: ${line}`);
      return;
    }
    if (e.event === 'error') this.errors.push(e.message ?? 'unknown error');
    if (e.event === 'ws-invalid') this.wsInvalidReason = e.message ?? 'invalid working set';
    if (e.event === 'restored') this.lastRestored = e;
    // The watched instance exited and the helper follows it: an exit we expect, not a death.
    if (e.event === 'instance-exited') this.stopping = true;
    for (const l of this.listeners) l(e.event);
    const list = this.waiters.get(e.event);
    if (list?.length) {
      this.waiters.delete(e.event);
      for (const w of list) w.resolve(e);
    }
    // a failing command answers with an error instead of its event
    if (e.event === 'error') {
      for (const [name, ws] of this.waiters) {
        if (name === 'recorded') {
          this.waiters.delete(name);
          for (const w of ws) w.reject(new Error(`REAP monitor: ${e.message}`));
        }
      }
    }
  }

  private next(event: string): Promise<MonitorEvent> {
    if (event === 'restored' && this.lastRestored) return Promise.resolve(this.lastRestored);
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return Promise.reject(new Error(`REAP monitor is not running (waiting for ${event}); errors: ${this.errors.join('; ')}`));
    }
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(event) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(event, list);
    });
  }

  private send(cmd: string): void {
    this.child.stdin!.write(`${cmd}\n`);
  }

  /** Resolves when CRIU has signalled the end of the restore (and, in prefetch, the working set is installed). */
  async restored(): Promise<MonitorStats> {
    return toStats(await this.next('restored'));
  }

  /** From now on the helper exits by itself when the instance (its host PID) exits. */
  watch(hostPid: number): void {
    this.send(`watch ${hostPid}`);
  }

  /** Record phase: the invocation returned; write and fsync the trace and working-set files. */
  async finishRecord(): Promise<MonitorStats> {
    const done = this.next('recorded');
    this.send('record-done');
    // Bounded: a monitor that never writes the working set must not hold the cold start.
    return toStats(await withDeadline(done, 'monitor record', criuDeadlineMs(), () => this.kill(), 'REAP monitor never wrote the working set; killed'));
  }

  async stats(): Promise<MonitorStats> {
    const s = this.next('stats');
    this.send('stats');
    return toStats(await s);
  }

  /** Stops serving. Call only once the instance is gone: its next missing page would never come. */
  async stop(): Promise<void> {
    // A helper that is gone already died on its own, also when its 'close' (which `exited` waits
    // for) is still to come: that stays a death (the instance's exit may be seen first).
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      await this.exited;
      return;
    }
    this.stopping = true;
    this.child.stdin!.end('exit\n');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }

  /** Every event the helper reports (`task`, `restored`, `recorded`, `ws-invalid`, `error`, ...). */
  onEvent(listener: (event: string) => void): void {
    this.listeners.push(listener);
  }

  /** For tests and fault injection: the helper dies as if it crashed. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
  }
}
