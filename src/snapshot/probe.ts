import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { criuBinary, criuFaultEnv, criuLogTail, run } from './criu.js';
import { criuDeadlineMs, killPids } from './deadline.js';

/**
 * Does CRIU work on this machine, as built and configured? Answered once, bounded, and remembered
 * with the build: a `criu dump` of a trivial process (a detached `sleep`) within the CRIU deadline
 * floor. It catches what the static checks cannot: a kernel CRIU cannot handle, and compel's
 * hardware breakpoints that never fire (AMD Zen 5 VMs) when `HIVELAB_CRIU_BREAKPOINTS=1` turns
 * the syscall stops off — that dump never returns, and without the probe every snapshot would.
 *
 * The answer is kept in `.cache/criu/probe.json` under a key of the CPU model, the kernel release,
 * the CRIU binary (path, size, time) and the stop mode: a new build, kernel or machine probes again.
 */

export interface CriuProbe {
  ok: boolean;
  /** Why snapshots cannot work (ok false). */
  reason?: string;
  /** How compel stops the parasite and restorer: `syscall-stop` (CRIU_FAULT=130) or `breakpoints`. */
  stopMode: 'syscall-stop' | 'breakpoints';
  /** Wall time of the probe's dump, ms. */
  dumpMs?: number;
  probedAt: string;
  key: string;
}

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

export function probeCacheFile(): string {
  return process.env.HIVELAB_CRIU_PROBE_CACHE ?? path.join(repoRoot, '.cache', 'criu', 'probe.json');
}

function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function stopMode(): CriuProbe['stopMode'] {
  return criuFaultEnv().CRIU_FAULT ? 'syscall-stop' : 'breakpoints';
}

/** Pure-ish: the key a probe result is remembered under. */
export function probeKey(): string {
  const bin = criuBinary();
  const st = statSync(bin, { throwIfNoEntry: false });
  return createHash('sha256')
    .update([cpuModel(), release(), bin, st?.size ?? 0, st?.mtimeMs ?? 0, stopMode()].join('\n'))
    .digest('hex')
    .slice(0, 16);
}

async function readCache(): Promise<Record<string, CriuProbe>> {
  try {
    return JSON.parse(await readFile(probeCacheFile(), 'utf8')) as Record<string, CriuProbe>;
  } catch {
    return {};
  }
}

async function remember(result: CriuProbe): Promise<void> {
  try {
    const file = probeCacheFile();
    await mkdir(path.dirname(file), { recursive: true });
    const all = { ...(await readCache()), [result.key]: result };
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(all, null, 2) + '\n');
    await rename(tmp, file);
  } catch {
    /* a read-only cache: probe again next time */
  }
}

/** Dumps a detached `sleep` within the deadline; CRIU and the sleep are killed whatever happens. */
export async function runProbe(deadlineMs = criuDeadlineMs()): Promise<Omit<CriuProbe, 'probedAt' | 'key'>> {
  const mode = stopMode();
  const dir = await mkdtemp(path.join(tmpdir(), 'hivelab-criu-probe-'));
  const sleeper = spawn('/bin/sleep', ['600'], { detached: true, stdio: 'ignore' });
  try {
    if (!sleeper.pid) return { ok: false, stopMode: mode, reason: 'CRIU probe: cannot start /bin/sleep' };
    const t0 = performance.now();
    try {
      await run(['dump', '--tree', String(sleeper.pid), '--images-dir', dir, '--log-file', 'dump.log', '-v2'], { timeoutMs: deadlineMs });
    } catch (err) {
      const e = err as { killed?: boolean; message: string };
      const hint = mode === 'breakpoints' ? ' with hardware breakpoints (HIVELAB_CRIU_BREAKPOINTS=1): they may not fire on this CPU; unset it' : '';
      const why = e.killed ? `did not finish within ${deadlineMs} ms${hint}` : `failed: ${e.message.split('\n')[0]}`;
      const tail = criuLogTail(path.join(dir, 'dump.log'), 3);
      return { ok: false, stopMode: mode, reason: `CRIU probe: dumping a trivial process ${why}${tail ? ` (${tail.replace(/\n/g, ' | ')})` : ''}` };
    }
    return { ok: true, stopMode: mode, dumpMs: Math.round(performance.now() - t0) };
  } finally {
    if (sleeper.pid) killPids([sleeper.pid]);
    await rm(dir, { recursive: true, force: true });
  }
}

const inProcess = new Map<string, Promise<CriuProbe>>();

/** The remembered answer for this build, or a fresh probe (once per process and key at most). */
export function probeCriu(): Promise<CriuProbe> {
  const key = probeKey();
  let p = inProcess.get(key);
  if (!p) {
    p = (async () => {
      const cached = (await readCache())[key];
      if (cached) return cached;
      const result: CriuProbe = { ...(await runProbe()), probedAt: new Date().toISOString(), key };
      await remember(result);
      return result;
    })();
    inProcess.set(key, p);
  }
  return p;
}
