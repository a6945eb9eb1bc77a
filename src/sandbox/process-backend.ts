import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import {
  SandboxStartError,
  type ExitInfo,
  type InstanceSpec,
  type SandboxBackend,
  type SandboxInstance,
  type StartTimings,
} from './backend.js';
import { InstanceCgroup, type CgroupLimits } from './cgroup.js';
import { buildLaunch, probeSystemRoots, type Rlimits, type SandboxLayout } from './launch.js';

/**
 * The `process` backend: each instance is a runtime process in its own PID, mount, network
 * (loopback only), IPC and UTS namespaces made by bubblewrap, with no capabilities, a minimal
 * read-only filesystem and its own memory/cpu/pids cgroup. Starting = booting the runtime.
 */

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MIN_START_TIMEOUT_MS = 30_000;

export interface ProcessBackendOptions {
  /** Host path of the compiled runtimes (default: `<repo>/dist/runtime`). */
  runtimeDir?: string;
  /** Host node_modules mounted at /node_modules (default: `<repo>/node_modules`; null: none). */
  nodeModulesDir?: string | null;
  cgroupRoot?: string;
  rlimits?: Rlimits;
  pidsMax?: number;
  /** Replaces the runtime command inside the sandbox (benchmarks: a bare `node -e`). */
  runtimeArgv?: (spec: InstanceSpec) => string[];
  /** Start timeout; default: the larger of the manifest's timeoutMs and 30 s. */
  startTimeoutMs?: number;
  bwrapPath?: string;
}

export class ProcessBackend implements SandboxBackend {
  readonly name = 'process';
  readonly layout: SandboxLayout;

  constructor(private readonly options: ProcessBackendOptions = {}) {
    // By default the repo's node_modules, when there is one (a missing bind source would fail every start).
    const defaultNodeModules = join(REPO_ROOT, 'node_modules');
    const nodeModulesDir =
      options.nodeModulesDir === undefined ? (existsSync(defaultNodeModules) ? defaultNodeModules : null) : options.nodeModulesDir;
    this.layout = {
      runtimeDir: options.runtimeDir ?? join(REPO_ROOT, 'dist/runtime'),
      nodeModulesDir: nodeModulesDir ?? undefined,
      systemRoots: probeSystemRoots(),
    };
  }

  async start(spec: InstanceSpec): Promise<SandboxInstance> {
    const t0 = performance.now();
    const shim = spec.manifest.command ? 'port/bridge.cjs' : spec.manifest.runtime === 'node' ? 'node/shim.cjs' : 'python/shim.py';
    if (!this.options.runtimeArgv && !existsSync(join(this.layout.runtimeDir, shim))) {
      throw new SandboxStartError(
        `runtime shim ${join(this.layout.runtimeDir, shim)} is missing: build first (tsc && node scripts/copy-assets.mjs)`,
      );
    }
    await mkdir(spec.runDir, { recursive: true });
    await rm(join(spec.runDir, 'fn.sock'), { force: true });
    await mkdir(dirname(spec.logFile), { recursive: true });

    const limits: CgroupLimits = { memoryMB: spec.manifest.memoryMB, pidsMax: this.options.pidsMax };
    let cgroup: InstanceCgroup;
    try {
      cgroup = await InstanceCgroup.create(spec.instanceId, limits, this.options.cgroupRoot);
    } catch (err) {
      throw new SandboxStartError(`instance ${spec.instanceId}: ${(err as Error).message}`);
    }
    const t1 = performance.now();

    const plan = buildLaunch({
      spec,
      layout: this.layout,
      cgroupProcsFiles: cgroup.procsFiles,
      rlimits: this.options.rlimits,
      runtimeArgv: this.options.runtimeArgv?.(spec),
      bwrapPath: this.options.bwrapPath,
    });
    const logFd = openSync(spec.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(plan.command, plan.args, { env: plan.env, stdio: ['ignore', logFd, logFd, 'pipe'] });
    } catch (err) {
      await cgroup.remove().catch(() => undefined);
      throw new SandboxStartError(`instance ${spec.instanceId}: cannot spawn the sandbox launcher: ${(err as Error).message}`);
    } finally {
      closeSync(logFd);
    }

    const instance = new ProcessInstance(spec, child, cgroup);
    const startTimeout = this.options.startTimeoutMs ?? Math.max(spec.manifest.timeoutMs, MIN_START_TIMEOUT_MS);
    const outcome = await waitReady(child.stdio[3] as Readable, instance.exited, startTimeout);
    if (outcome !== 'ready') {
      if (outcome === 'timeout') await instance.stop(0);
      const exit = await instance.exited;
      const tail = await logTail(spec.logFile);
      const why =
        outcome === 'timeout'
          ? `did not become ready within ${startTimeout} ms`
          : `exited before becoming ready (${exit.reason}, code ${exit.code}, signal ${exit.signal})`;
      throw new SandboxStartError(`instance ${spec.instanceId} (${spec.manifest.runtime}) ${why}; log tail:\n${tail}`, tail);
    }
    const t2 = performance.now();
    instance.markReady({ startMs: t2 - t0, cgroupMs: t1 - t0, spawnToReadyMs: t2 - t1 });
    // CPU spent by launcher, bwrap and runtime up to readiness: a noise-free companion to startMs.
    instance.timings.startCpuMs = await cgroup.cpuUsageMs();
    return instance;
  }
}

function waitReady(ready: Readable, exited: Promise<ExitInfo>, timeoutMs: number): Promise<'ready' | 'exited' | 'timeout'> {
  return new Promise((resolveOutcome) => {
    let buffered = '';
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    function done(o: 'ready' | 'exited' | 'timeout') {
      clearTimeout(timer);
      ready.removeAllListeners('data');
      ready.destroy();
      resolveOutcome(o);
    }
    ready.setEncoding('utf8');
    ready.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.includes('ready\n')) done('ready');
    });
    ready.on('error', () => undefined); // the runtime closing its end is normal
    void exited.then(() => done('exited'));
  });
}

/** The last lines of an instance log, for start failures and crash reports. */
export async function logTail(file: string, maxBytes = 4096, maxLines = 30): Promise<string> {
  try {
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      const start = Math.max(0, size - maxBytes);
      const buf = Buffer.alloc(size - start);
      await fh.read(buf, 0, buf.length, start);
      return buf.toString('utf8').split('\n').slice(-maxLines).join('\n').trimEnd();
    } finally {
      await fh.close();
    }
  } catch {
    return '(no log)';
  }
}

export class ProcessInstance implements SandboxInstance {
  readonly instanceId: string;
  readonly socketPath: string;
  /** Host PID of bwrap (the launcher exec'd into it); the runtime is its only child. */
  readonly pid: number;
  timings: StartTimings = { startMs: 0 };
  readonly exited: Promise<ExitInfo>;
  private stopping = false;
  private isExited = false;
  private cachedInitPid: number | undefined;

  constructor(
    private readonly spec: InstanceSpec,
    child: ChildProcess,
    private readonly cgroup: InstanceCgroup,
  ) {
    this.instanceId = spec.instanceId;
    this.socketPath = join(spec.runDir, 'fn.sock');
    this.pid = child.pid ?? -1;
    this.exited = new Promise<ExitInfo>((resolveExit) => {
      const finish = async (code: number | null, signal: NodeJS.Signals | null) => {
        // Read the OOM counter before the group is removed.
        const oom = (await this.cgroup.oomKills()) > 0;
        await this.cgroup.remove().catch((err: Error) => {
          process.stderr.write(`hivelab: instance ${this.instanceId}: ${err.message}\n`);
        });
        this.isExited = true;
        const reason = this.stopping ? 'stopped' : oom ? 'oom' : this.timings.startMs === 0 ? 'start-failed' : 'crash';
        const info: ExitInfo = { reason, code, signal };
        if (reason === 'oom') info.detail = `killed by the memory cgroup (limit ${this.spec.manifest.memoryMB} MB)`;
        else if (reason === 'crash') info.detail = await logTail(this.spec.logFile);
        resolveExit(info);
      };
      child.once('exit', (code, signal) => void finish(code, signal));
      child.once('error', () => void finish(null, null));
    });
  }

  markReady(timings: StartTimings): void {
    this.timings = timings;
  }

  /**
   * Host PID of the runtime, the init of the instance's PID namespace (what CRIU dumps).
   * Undefined once the instance is gone.
   */
  get initPid(): number | undefined {
    if (this.cachedInitPid === undefined && !this.isExited) {
      try {
        const children = readFileSync(`/proc/${this.pid}/task/${this.pid}/children`, 'utf8').trim().split(/\s+/);
        if (children[0]) this.cachedInitPid = Number(children[0]);
      } catch {
        return undefined;
      }
    }
    return this.isExited ? undefined : this.cachedInitPid;
  }

  memoryUsage(): Promise<number> {
    return this.isExited ? Promise.resolve(0) : this.cgroup.memoryUsage();
  }

  /** CPU time the instance has used so far (ms; 0 once it is gone). */
  cpuUsageMs(): Promise<number> {
    return this.isExited ? Promise.resolve(0) : this.cgroup.cpuUsageMs();
  }

  async stop(graceMs = 1000): Promise<ExitInfo> {
    if (this.isExited || this.stopping) return this.exited;
    this.stopping = true;
    if (graceMs > 0) {
      // The runtime is PID 1 of its namespace: only a signal it handles gets through, and the shims
      // handle SIGTERM. Killing the namespace init takes every other process inside with it.
      const init = this.initPid;
      if (init !== undefined) {
        try {
          process.kill(init, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      let timer: NodeJS.Timeout | undefined;
      const graceful = await Promise.race([
        this.exited.then(() => true),
        new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs))),
      ]);
      clearTimeout(timer);
      if (graceful) return this.exited;
    }
    await this.cgroup.killAll('SIGKILL');
    return this.exited;
  }
}

