import { readFile } from 'node:fs/promises';
import type { ExitInfo, ExitReason, SandboxInstance, StartTimings } from '../sandbox/backend.js';
import type { InstanceCgroup } from '../sandbox/cgroup.js';
import type { PhaseTiming } from '../observability/semantic.js';
import type { MonitorStats } from '../reap/monitor.js';
import { logTail } from '../sandbox/process-backend.js';

/**
 * A running instance that CRIU can see: booted by the snapshot launcher (the original a snapshot is
 * taken of) or restored from a snapshot. Its runtime is PID 1 of its own PID namespace, so killing
 * that PID (or everything in its cgroup) ends the instance.
 */

export interface CriuInstanceParts {
  instanceId: string;
  socketPath: string;
  pid: number;
  cgroup: InstanceCgroup;
  logFile: string;
  memoryMB: number;
  /** Settles when the instance is gone; `monitor-died` when its REAP monitor died first. */
  gone: Promise<'exited' | 'monitor-died'>;
  kill(): void;
  /** Runs once the instance has answered its first invocation (REAP's misprediction check). */
  afterFirstInvocation?: () => Promise<void>;
  /** Runs once the instance is gone (stop the lazy-pages daemon, note a monitor death). */
  afterExit?: (reason: ExitReason) => void;
  /** Live figures of the monitor serving this instance's memory (lazy and reap modes). */
  monitorStats?: () => Promise<MonitorStats | undefined>;
}

export class CriuInstance implements SandboxInstance {
  readonly instanceId: string;
  readonly socketPath: string;
  readonly pid: number;
  timings: StartTimings = { startMs: 0 };
  phases: PhaseTiming[] = [];
  readonly exited: Promise<ExitInfo>;
  private stopping = false;
  private isExited = false;
  private firstServedSeen = false;

  constructor(private readonly parts: CriuInstanceParts) {
    this.instanceId = parts.instanceId;
    this.socketPath = parts.socketPath;
    this.pid = parts.pid;
    this.exited = parts.gone.then(async (why) => {
      // Everything left in the cgroup (a stray child) goes with the runtime.
      await parts.cgroup.killAll('SIGKILL').catch(() => 0);
      const oom = (await parts.cgroup.oomKills().catch(() => 0)) > 0;
      await parts.cgroup.remove().catch((err: Error) => process.stderr.write(`hivelab: instance ${this.instanceId}: ${err.message}\n`));
      this.isExited = true;
      const reason: ExitReason = why === 'monitor-died' ? 'monitor-died' : this.stopping ? 'stopped' : oom ? 'oom' : this.timings.startMs === 0 ? 'start-failed' : 'crash';
      const info: ExitInfo = { reason, code: null, signal: null };
      if (reason === 'monitor-died') info.detail = 'the REAP monitor serving its memory died; the instance was killed';
      else if (reason === 'oom') info.detail = `killed by the memory cgroup (limit ${parts.memoryMB} MB)`;
      else if (reason === 'crash') info.detail = await logTail(parts.logFile);
      parts.afterExit?.(reason);
      return info;
    });
  }

  /**
   * Resident memory: the larger of the cgroup's charge and the runtime's RSS. Pages CRIU restores are
   * charged to the instance's cgroup (CRIU runs in it), but file pages the runtime maps may have
   * been charged to whoever read them first, so the cgroup alone can undercount.
   */
  async memoryUsage(): Promise<number> {
    if (this.isExited) return 0;
    const charged = await this.parts.cgroup.memoryUsage().catch(() => 0);
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8').catch(() => '');
    const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    return Math.max(charged, rssKb * 1024);
  }

  /** The monitor's figures; undefined when there is none or it does not answer within 1 s. */
  async monitorStats(): Promise<MonitorStats | undefined> {
    if (this.isExited || !this.parts.monitorStats) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const stats = await Promise.race([this.parts.monitorStats().catch(() => undefined), new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 1000)))]);
    clearTimeout(timer);
    return stats;
  }

  /** Once, after the first invocation; bounded: a monitor that no longer answers must not hold it. */
  async firstServed(): Promise<void> {
    const hook = this.parts.afterFirstInvocation;
    if (!hook || this.firstServedSeen || this.isExited) return;
    this.firstServedSeen = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([hook().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 1000)))]);
    clearTimeout(timer);
  }

  async stop(graceMs = 1000): Promise<ExitInfo> {
    if (this.isExited || this.stopping) return this.exited;
    this.stopping = true;
    if (graceMs > 0) {
      try {
        process.kill(this.pid, 'SIGTERM'); // the shims handle SIGTERM even as PID 1
      } catch {
        /* gone */
      }
      let timer: NodeJS.Timeout | undefined;
      const graceful = await Promise.race([this.exited.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs)))]);
      clearTimeout(timer);
      if (graceful) return this.exited;
    }
    this.parts.kill();
    await this.parts.cgroup.killAll('SIGKILL').catch(() => 0);
    return this.exited;
  }
}
