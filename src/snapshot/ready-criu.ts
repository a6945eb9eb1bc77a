import { spawn, type ChildProcess } from 'node:child_process';
import { rename } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { SANDBOX_LAUNCHER } from '../sandbox/root.js';
import { cleanEnv, criuBinary } from './criu.js';
import { decodeResponse, encodeRestoreRequest, type CriuResponse, type CriuRestoreRequest } from './criu-rpc.js';
import { killTree } from './deadline.js';

/**
 * A CRIU made ready for one restore ahead of demand: `hivelab-sandbox --criu-swrk` (criu_swrk.c)
 * joined the clone's cgroups, bound its invocation socket, holds its network namespace and output
 * pipe, and has forked `criu swrk`, which waits for the request. A restore then costs one RPC
 * instead of a shell, an exec of CRIU and its start-up.
 *
 * The relay holds the clone's IPC and UTS namespaces too (CRIU and the restored tree inherit them;
 * a request sets the clone's hostname in the latter).
 *
 * The relay's descriptors: 0 requests, 1 the clone's output (read here as `output`), 2 messages,
 * 4 the network namespace, 5 responses. After the restore the relay is the restored tree's parent
 * and exits with it; `exited` settles once the relay has exited and the output has ended (the clone
 * holds the only write end).
 */

/** The relay's own failures (criu_swrk.c). */
const RELAY_EXIT: Record<number, string> = {
  120: 'could not be set up',
  121: 'got a request it could not use',
  122: 'lost its CRIU',
};

/** Descriptor numbers in CRIU's table (criu_swrk.c): what `inherit_fd` entries name. */
export const CRIU_FD = { output: 1, listener: 3, netns: 4, workDir: 6, imagesDir: 7 } as const;

/** The clone's invocation socket's name in CRIU's work folder (the restored instance's `socketPath`). */
export const LISTENER_NAME = 'fn.sock';

export interface ReadyCriuOptions {
  /** `cgroup.procs` files the relay (so CRIU and the restored tree) joins first. */
  cgroupProcs: string[];
  /** The clone's network namespace; the relay takes its own copy, the caller closes this one. */
  netns: number;
  /** Where the relay binds the clone's listening socket (root's folder, not the clone's). */
  listenerPath: string;
}

/** CRIU's answer to the request: the restored tree runs from then on. */
export interface CriuAnswer {
  /** null when the relay ended without one. */
  response: CriuResponse | null;
  /** CRIU's time from the request to its answer, measured by the relay (ms); null without an answer. */
  criuMs: number | null;
}

export class ReadyCriu {
  readonly output: Readable;
  /** Settles when the relay has exited and the clone's output has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The relay's exit alone: before a request, it means this CRIU is of no use any more. */
  readonly relayExit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private listener: string;
  private used = false;
  private stderr = '';
  private restoredPid = 0;
  /** Settles when the relay says it is set up (its socket bound), or rejects when it ends first. */
  private readonly isReady: Promise<void>;
  private readonly answer: Promise<CriuAnswer>;
  /** CRIU's wait status once it has exited after its answer; null when the relay ended without one. */
  readonly criuExit: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    listenerPath: string,
  ) {
    this.listener = listenerPath;
    this.output = child.stdout!;
    child.stderr!.on('data', (d: Buffer) => {
      if (this.stderr.length < 8192) this.stderr += d.toString();
    });
    this.relayExit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const outputEnd = new Promise<void>((resolve) => {
      this.output.once('end', resolve);
      this.output.once('close', resolve);
      this.output.once('error', () => resolve());
    });
    this.exited = Promise.all([this.relayExit, outputEnd]).then(([r]) => r);
    // the response stream: an empty frame (set up); a frame with CRIU's time in µs and its
    // criu_resp; once CRIU has exited, 0xffffffff and its wait status
    let markReady!: () => void;
    let notReady!: (err: Error) => void;
    this.isReady = new Promise((resolve, reject) => ((markReady = resolve), (notReady = reject)));
    this.isReady.catch(() => undefined);
    let answered!: (a: CriuAnswer) => void;
    let exited!: (status: number | null) => void;
    this.answer = new Promise((resolve) => (answered = resolve));
    this.criuExit = new Promise((resolve) => (exited = resolve));
    const responses = (child.stdio as unknown as Readable[])[5]!;
    let buf = Buffer.alloc(0);
    const answer = (response: CriuResponse | null, criuUs: number | null) => {
      if (response?.pid) this.restoredPid = response.pid;
      answered({ response, criuMs: criuUs === null ? null : criuUs / 1000 });
    };
    responses.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4) {
        const len = buf.readUInt32LE(0);
        if (len === 0xffffffff) {
          if (buf.length >= 8) exited(buf.readInt32LE(4));
          return;
        }
        if (buf.length < 4 + len) return;
        if (len === 0) markReady();
        else if (len < 4) answer(null, null);
        else {
          let response: CriuResponse | null = null;
          try {
            response = decodeResponse(buf.subarray(8, 4 + len));
          } catch {
            // reported as no answer
          }
          answer(response, buf.readUInt32LE(4));
        }
        buf = buf.subarray(4 + len);
      }
    });
    const ended = () => {
      answer(null, null);
      exited(null);
    };
    responses.once('error', ended);
    void this.relayExit.then(async () => {
      notReady(new Error(await this.failure()));
      ended();
    });
  }

  /** Resolves once the relay is set up (cgroups joined, socket bound, CRIU forked); rejects with why it ended first. */
  ready(): Promise<void> {
    return this.isReady;
  }

  static start(opts: ReadyCriuOptions): ReadyCriu {
    const child = spawn(SANDBOX_LAUNCHER, ['--criu-swrk', criuBinary(), opts.listenerPath, ...opts.cgroupProcs], {
      stdio: ['pipe', 'pipe', 'pipe', 'ignore', opts.netns, 'pipe'],
      env: cleanEnv(),
    });
    child.once('error', () => undefined); // surfaces as the exit below
    child.stdin!.on('error', () => undefined); // a relay that died: restore() reports it
    return new ReadyCriu(child, opts.listenerPath);
  }

  /** `start`, resolved once the relay is set up (its socket bound); killed and rejected if it is not. */
  static async started(opts: ReadyCriuOptions): Promise<ReadyCriu> {
    const criu = ReadyCriu.start(opts);
    await criu.ready().catch((err: Error) => {
      criu.kill();
      throw err;
    });
    return criu;
  }

  /** The relay has exited: a ready CRIU that ended before its request is of no use. */
  get ended(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Where the clone's listening socket is now. */
  get listenerPath(): string {
    return this.listener;
  }

  /** Gives the clone's socket another name in the same file system (before or after the restore). */
  async moveListener(to: string): Promise<void> {
    await rename(this.listener, to);
    this.listener = to;
  }

  /**
   * Sends the restore request and resolves with CRIU's answer (or with none once the relay has
   * ended); never rejects: the caller judges the answer, and `kill` ends a restore that takes too
   * long. CRIU's exit follows (`criuExit`).
   */
  restore(clone: { workDir: string; imagesDir: string; hostname: string }, req: Omit<CriuRestoreRequest, 'workDirFd' | 'imagesDirFd'>): Promise<CriuAnswer> {
    if (this.used) throw new Error('a ready CRIU restores once');
    this.used = true;
    const frame = (b: Buffer) => Buffer.concat([u32(b.length), b]);
    const paths = Buffer.from(`${clone.workDir}\0${clone.imagesDir}\0${clone.hostname}`);
    this.child.stdin!.end(Buffer.concat([frame(paths), frame(encodeRestoreRequest({ ...req, workDirFd: CRIU_FD.workDir, imagesDirFd: CRIU_FD.imagesDir }))]));
    return this.answer;
  }

  /** What the relay and CRIU printed (CRIU's own complaints before its log is open). */
  get messages(): string {
    return this.stderr.trim();
  }

  /** Why the relay failed, from its exit and messages, for errors a person can act on. */
  async failure(): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const { code, signal } = await Promise.race([this.relayExit, new Promise<{ code: null; signal: null }>((r) => (timer = setTimeout(() => r({ code: null, signal: null }), 1000)))]);
    clearTimeout(timer);
    const what = code !== null ? (RELAY_EXIT[code] ?? `exited ${code}`) : signal ? `was killed (${signal})` : 'is still running';
    return `the CRIU relay ${what}${this.messages ? `: ${this.messages}` : ''}`;
  }

  /** SIGKILLs the relay, CRIU and every task restored so far (the PID namespace dies with its PID 1). */
  kill(): void {
    if (this.restoredPid > 0) {
      try {
        process.kill(this.restoredPid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    if (this.child.pid !== undefined) killTree(this.child.pid);
    this.child.stdin!.destroy();
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
