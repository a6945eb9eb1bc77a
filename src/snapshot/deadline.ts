import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Deadlines for everything CRIU-shaped: a dump, a restore, the lazy-pages handshake, a REAP monitor
 * starting or finishing its part of a restore. None of them may wait forever: a CRIU whose compel
 * breakpoint never fires sits in wait4 with its tracee frozen, a monitor that died leaves CRIU
 * waiting on a socket. Each deadline is a floor (process start-up, kernel probing, a loaded host)
 * plus a time per MB of image, so a big function is not cut short where a small one would hang.
 */

/** The phases a cold start can fail in, named in errors and logs. */
export type CriuPhase = 'dump' | 'restore' | 'lazy-pages handshake' | 'monitor start' | 'monitor restore' | 'monitor record' | 'probe';

export const DEFAULT_FLOOR_MS = 10_000;
/** 20 MB/s: an order of magnitude below what dumps and restores reach here (BENCHMARKS.md). */
export const DEFAULT_MS_PER_MB = 50;

/** Pure: the deadline for a phase that handles `bytes` of image. */
export function deadlineFor(bytes: number, o: { floorMs?: number; msPerMB?: number } = {}): number {
  const floor = o.floorMs ?? DEFAULT_FLOOR_MS;
  const perMB = o.msPerMB ?? DEFAULT_MS_PER_MB;
  return Math.round(floor + (Math.max(0, bytes) / 1048576) * perMB);
}

function envNumber(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/**
 * The deadline for `bytes` of image on this host: HIVELAB_CRIU_DEADLINE_MS (floor) and
 * HIVELAB_CRIU_DEADLINE_MS_PER_MB override the defaults (tests shorten them to provoke expiry).
 */
export function criuDeadlineMs(bytes = 0): number {
  return deadlineFor(bytes, { floorMs: envNumber('HIVELAB_CRIU_DEADLINE_MS'), msPerMB: envNumber('HIVELAB_CRIU_DEADLINE_MS_PER_MB') });
}

/** Bytes of page images in a CRIU images folder (what a restore reads). */
export function imagePagesBytes(imagesDir: string): number {
  let n = 0;
  try {
    for (const f of readdirSync(imagesDir)) if (f.startsWith('pages-') && f.endsWith('.img')) n += statSync(path.join(imagesDir, f)).size;
  } catch {
    /* no images: the floor */
  }
  return n;
}

/** A phase that did not finish in time; whatever it ran has been killed. */
export class CriuDeadlineError extends Error {
  constructor(
    readonly phase: CriuPhase,
    readonly deadlineMs: number,
    detail = '',
  ) {
    super(`${phase} did not finish within its deadline of ${deadlineMs} ms${detail ? `: ${detail}` : ''}`);
    this.name = 'CriuDeadlineError';
  }
}

/**
 * Waits for `work` at most `ms`; on expiry runs `onExpiry` (kill what the phase started) and
 * rejects with CriuDeadlineError naming the phase. `work` is left to settle on its own.
 */
export async function withDeadline<T>(work: Promise<T>, phase: CriuPhase, ms: number, onExpiry: () => void | Promise<void>, detail?: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), ms)));
  try {
    const r = await Promise.race([work.then((v) => ({ v })), expired]);
    if (r === 'expired') {
      work.catch(() => undefined);
      await onExpiry();
      throw new CriuDeadlineError(phase, ms, detail);
    }
    return r.v;
  } finally {
    clearTimeout(timer);
  }
}

/** SIGKILL, ignoring tasks already gone. */
export function killPids(pids: Iterable<number>): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Every descendant of `pid` (all threads' children), parents before children. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    let tasks: string[] = [];
    try {
      const dir = `/proc/${p}/task`;
      // children of every thread: CRIU forks restored tasks from whichever thread it is in
      for (const t of readdirSync(dir)) tasks.push(...readFileSync(`${dir}/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
    } catch {
      /* gone */
    }
    tasks = [...new Set(tasks)];
    for (const t of tasks) {
      out.push(Number(t));
      queue.push(Number(t));
    }
  }
  return out;
}

/** SIGKILLs `pid` and everything below it (e.g. the shell, CRIU, the tasks CRIU was restoring). */
export function killTree(pid: number): void {
  killPids([pid, ...descendants(pid)]);
}
