import { mkdir, readdir, readFile, rename, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processExists } from '../core/process-exists.js';

/**
 * One instance's cgroup (v1, as on this machine: one hierarchy per controller), at
 * `<root>/{memory,cpu,cpuacct,pids}/hivelab/<instanceId>`. The memory limit is what makes `memoryMB` real and
 * what lets the worker tell an OOM kill from a crash; cpu.shares gives bigger functions more CPU the
 * way Lambda does when the machine is busy, and a CFS quota caps what an instance (and every child
 * it leaves behind) can burn when it is not.
 */

export const CGROUP_ROOT = '/sys/fs/cgroup';
export const CGROUP_PARENT = 'hivelab';
// cpuacct only measures (CPU time per instance, robust where wall-clock timings are noisy).
const CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids'] as const;
type Controller = (typeof CONTROLLERS)[number];

/** Lambda gives one full vCPU at 1769 MB and scales CPU linearly with memory. */
export const MB_PER_VCPU = 1769;
export const DEFAULT_PIDS_MAX = 512;

export function cpuSharesFor(memoryMB: number): number {
  return Math.max(2, Math.round((1024 * memoryMB) / MB_PER_VCPU));
}

export const CPU_PERIOD_US = 100_000;
/**
 * Default quota floor, in vCPUs. Lambda's strict share (128 MB = 0.07 vCPU) would stretch a 50 ms
 * runtime boot to most of a second; one vCPU keeps a single-threaded boot unthrottled while a
 * function's detached busy children can no longer take every core.
 */
export const DEFAULT_CPU_QUOTA_FLOOR_VCPUS = 1;

/** The vCPUs an instance of `memoryMB` may use: the Lambda share, at least `floorVcpus`. */
export function instanceVcpus(memoryMB: number, floorVcpus = DEFAULT_CPU_QUOTA_FLOOR_VCPUS): number {
  return Math.max(floorVcpus, memoryMB / MB_PER_VCPU);
}

/** cfs_quota_us for one period: `instanceVcpus` of a period. */
export function cpuQuotaFor(memoryMB: number, floorVcpus = DEFAULT_CPU_QUOTA_FLOOR_VCPUS, periodUs = CPU_PERIOD_US): number {
  const vcpus = instanceVcpus(memoryMB, floorVcpus);
  return Math.max(1000, Math.round(vcpus * periodUs)); // the kernel's minimum quota is 1 ms
}

export interface CgroupLimits {
  memoryMB: number;
  pidsMax?: number;
  cpuShares?: number;
  /** Floor of the CPU quota in vCPUs (default DEFAULT_CPU_QUOTA_FLOOR_VCPUS). */
  cpuQuotaFloorVcpus?: number;
}

export class CgroupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CgroupError';
  }
}

const SAFE_NAME = /^[A-Za-z0-9_.-]{1,200}$/;

async function readNumber(file: string): Promise<number> {
  return Number((await readFile(file, 'utf8')).trim());
}

async function tryWrite(file: string, value: string, what: string): Promise<void> {
  try {
    await writeFile(file, value);
  } catch (err) {
    throw new CgroupError(`cannot set ${what} (${file} ← ${value}): ${(err as Error).message}`);
  }
}

export class InstanceCgroup {
  /** The limits this object last wrote (setLimits), so the same limits again cost no writes. */
  private applied: string | undefined;

  private constructor(
    readonly name: string,
    private readonly root: string,
  ) {}

  /**
   * The groups of an instance someone else started, to kill and remove them: the control plane
   * uses it for the instances of a worker that died. Snapshot-restored instances do not die with
   * their worker (CRIU restores them detached, and a parent-death signal would fire as CRIU exits),
   * so without this they would run on, unseen, holding their memory.
   */
  static of(instanceId: string, root = CGROUP_ROOT): InstanceCgroup {
    if (!SAFE_NAME.test(instanceId) || instanceId === '.' || instanceId === '..') {
      throw new CgroupError(`instance id ${JSON.stringify(instanceId)} is not usable as a cgroup name`);
    }
    return new InstanceCgroup(instanceId, root);
  }

  /** Creates (or, if a crashed worker left it behind, empties and reuses) the instance's groups. */
  static async create(instanceId: string, limits: CgroupLimits, root = CGROUP_ROOT): Promise<InstanceCgroup> {
    const cg = await InstanceCgroup.make(instanceId, root);
    await cg.setLimits(limits);
    return cg;
  }

  /**
   * The groups without limits yet: made ahead of demand under a scratch name (a CRIU kept ready
   * joins them, ready-criu.ts), then renamed after the instance and limited when one claims them.
   */
  static async make(name: string, root = CGROUP_ROOT): Promise<InstanceCgroup> {
    const cg = InstanceCgroup.of(name, root);
    for (const c of CONTROLLERS) {
      try {
        await mkdir(cg.dir(c), { recursive: true });
      } catch (err) {
        throw new CgroupError(`cannot create cgroup ${cg.dir(c)}: ${(err as Error).message} (is the ${c} controller mounted at ${join(root, c)}, and are we root?)`);
      }
    }
    await cg.killAll('SIGKILL'); // stale members from a previous life of this name
    return cg;
  }

  async setLimits(limits: CgroupLimits): Promise<void> {
    // A group made ahead of demand for the next start of the same function has them already: eight
    // writes (~1 ms here) saved on the restore path.
    const key = JSON.stringify([limits.memoryMB, limits.cpuShares, limits.cpuQuotaFloorVcpus, limits.pidsMax]);
    if (key === this.applied) return;
    this.applied = undefined; // a write that fails half-way leaves them unknown
    const bytes = Math.round(limits.memoryMB * 1024 * 1024);
    const mem = this.dir('memory');
    // memsw (absent without swap accounting) must stay ≥ the memory limit at every step: raising a
    // limit set before (a group made ahead of demand) needs memsw first, lowering it memory first
    const memsw = join(mem, 'memory.memsw.limit_in_bytes');
    await writeFile(memsw, String(bytes)).catch(() => undefined);
    await tryWrite(join(mem, 'memory.limit_in_bytes'), String(bytes), 'memory limit');
    await writeFile(memsw, String(bytes)).catch(() => undefined);
    // No swapping: a function over its memory must be OOM-killed, not slowed down.
    await writeFile(join(mem, 'memory.swappiness'), '0').catch(() => undefined);
    await tryWrite(join(this.dir('cpu'), 'cpu.shares'), String(limits.cpuShares ?? cpuSharesFor(limits.memoryMB)), 'cpu shares');
    await tryWrite(join(this.dir('cpu'), 'cpu.cfs_period_us'), String(CPU_PERIOD_US), 'cpu period');
    await tryWrite(join(this.dir('cpu'), 'cpu.cfs_quota_us'), String(cpuQuotaFor(limits.memoryMB, limits.cpuQuotaFloorVcpus)), 'cpu quota');
    await tryWrite(join(this.dir('pids'), 'pids.max'), String(limits.pidsMax ?? DEFAULT_PIDS_MAX), 'pids limit');
    this.applied = key;
  }

  /**
   * The same groups, with their members, under another name (cgroup v1 renames a group within its
   * parent). Fails if a group of that name exists.
   */
  async renameTo(name: string): Promise<InstanceCgroup> {
    const to = InstanceCgroup.of(name, this.root);
    for (const c of CONTROLLERS) {
      try {
        await rename(this.dir(c), to.dir(c));
      } catch (err) {
        throw new CgroupError(`cannot rename cgroup ${this.dir(c)} to ${to.dir(c)}: ${(err as Error).message}`);
      }
    }
    to.applied = this.applied;
    return to;
  }

  dir(controller: Controller): string {
    return join(this.root, controller, CGROUP_PARENT, this.name);
  }

  /** The `cgroup.procs` files a launcher writes its own PID into before exec'ing the sandbox. */
  get procsFiles(): string[] {
    return CONTROLLERS.map((c) => join(this.dir(c), 'cgroup.procs'));
  }

  /** Bytes charged minus reclaimable inactive page cache (the "working set", as kubelet reports it). */
  async memoryUsage(): Promise<number> {
    try {
      const mem = this.dir('memory');
      const usage = await readNumber(join(mem, 'memory.usage_in_bytes'));
      const stat = await readFile(join(mem, 'memory.stat'), 'utf8');
      const inactive = Number(/^total_inactive_file (\d+)$/m.exec(stat)?.[1] ?? 0);
      return Math.max(0, usage - inactive);
    } catch {
      return 0;
    }
  }

  /** CPU time consumed by everything in the group so far (user + system), in milliseconds. */
  async cpuUsageMs(): Promise<number> {
    return readNumber(join(this.dir('cpuacct'), 'cpuacct.usage'))
      .then((ns) => ns / 1e6)
      .catch(() => 0);
  }

  async peakMemory(): Promise<number> {
    return readNumber(join(this.dir('memory'), 'memory.max_usage_in_bytes')).catch(() => 0);
  }

  /**
   * How many processes the memory cgroup's OOM killer has killed. Falls back to `memory.failcnt`
   * (times the limit was hit) on kernels without the `oom_kill` counter.
   */
  async oomKills(): Promise<number> {
    try {
      const text = await readFile(join(this.dir('memory'), 'memory.oom_control'), 'utf8');
      const m = /^oom_kill (\d+)$/m.exec(text);
      if (m) return Number(m[1]);
      return await readNumber(join(this.dir('memory'), 'memory.failcnt'));
    } catch {
      return 0;
    }
  }

  async pids(): Promise<number[]> {
    const all = new Set<number>();
    for (const c of CONTROLLERS) {
      try {
        for (const line of (await readFile(join(this.dir(c), 'cgroup.procs'), 'utf8')).split('\n')) {
          if (line.trim()) all.add(Number(line));
        }
      } catch {
        // group already gone
      }
    }
    return [...all];
  }

  async killAll(signal: NodeJS.Signals): Promise<number> {
    const pids = await this.pids();
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // already exited
      }
    }
    return pids.length;
  }

  /**
   * Kills whatever is still inside and removes the groups. A killed task leaves the group only once
   * it has been reaped, so rmdir is retried for a while (EBUSY) before giving up.
   */
  async remove(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const c of CONTROLLERS) {
      const dir = this.dir(c);
      for (;;) {
        try {
          await rmdir(dir);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          if (code !== 'EBUSY' || Date.now() > deadline) {
            throw new CgroupError(`cannot remove cgroup ${dir}: ${(err as Error).message}`);
          }
          await this.killAll('SIGKILL');
          await sleep(20);
        }
      }
    }
  }
}

/** The groups of a worker's `n`-th CRIU kept ready (src/snapshot/instance-sandbox.ts), named after the worker. */
export function readyGroupName(workerPid: number, n: number): string {
  return `ready-${workerPid}-${n}`;
}
const READY_GROUP = /^ready-(\d+)-\d+$/;

/**
 * Removes instance cgroups left behind by a worker that was killed before it could clean up (the
 * control plane has killed their instances). Only groups with no process and older than `minAgeMs`
 * go, so a group another worker has just created for a starting instance is never touched; rmdir
 * itself refuses a group that still has tasks.
 *
 * The groups of a dead worker's CRIU kept ready go with whatever is still in them, whatever their
 * age: nobody can claim them any more. The relay and CRIU die with the worker, but a child CRIU
 * forks to probe the kernel (kerndat) has no parent-death signal and waits on, orphaned.
 */
export async function sweepOrphanCgroups(root = CGROUP_ROOT, minAgeMs = 60_000): Promise<number> {
  let removed = 0;
  const readyGroups = await readdir(join(root, 'pids', CGROUP_PARENT)).catch(() => [] as string[]);
  for (const name of readyGroups) {
    const worker = READY_GROUP.exec(name)?.[1];
    if (worker === undefined || processExists(Number(worker))) continue;
    try {
      await InstanceCgroup.of(name, root).remove();
      removed++;
    } catch {
      // a member that would not die: the age-based pass below leaves it too
    }
  }
  for (const c of CONTROLLERS) {
    const parent = join(root, c, CGROUP_PARENT);
    const children = await readdir(parent, { withFileTypes: true }).catch(() => []);
    for (const child of children) {
      if (!child.isDirectory()) continue;
      const dir = join(parent, child.name);
      try {
        if (Date.now() - (await stat(dir)).mtimeMs < minAgeMs) continue;
        if ((await readFile(join(dir, 'cgroup.procs'), 'utf8')).trim() !== '') continue;
        await rmdir(dir);
        removed++;
      } catch {
        // in use, already gone, or not ours to remove: leave it
      }
    }
  }
  return removed;
}
