import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, open, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import {
  SandboxStartError,
  type ExitInfo,
  type InstanceSpec,
  type SandboxBackend,
  type SandboxInstance,
  type StartTimings,
} from './backend.js';
import { InstanceCgroup, type CgroupLimits } from './cgroup.js';
import {
  SANDBOX_UID_BASE,
  buildSandboxSpec,
  encodeSandboxSpec,
  launcherStep,
  probeSystemRoots,
  skeletonEntries,
  type Rlimits,
  type SandboxLayout,
} from './launch.js';
import { SANDBOX_LAUNCHER, ensureSkeleton, launcherUnavailableReason } from './root.js';
import { ensureHostNode, hostNodeDir } from './host-node.js';

/**
 * The `process` backend: each instance is a runtime process started by hivelab-sandbox in its own
 * PID, mount, network (loopback only), IPC and UTS namespaces, as the function's unprivileged uid
 * with no capabilities, no_new_privs and a seccomp filter, on a minimal read-only root, in its own
 * memory/cpu/pids cgroup (docs/SANDBOX.md). Starting = booting the runtime.
 */

/** The descriptor the launcher reads its spec from (after stdin/out/err and the readiness pipe). */
const SPEC_FD = 4;

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
  /** The hivelab-sandbox binary (default: the one scripts/setup-native.sh builds). */
  launcherPath?: string;
  /** Parent of the skeleton root folders (default /run/hivelab-sandbox; root-only). */
  skeletonParent?: string;
  /** CPU quota floor in vCPUs (see cpuQuotaFor in cgroup.ts). */
  cpuQuotaFloorVcpus?: number;
  /** The node bundle image instances run the port bridge with (default: host-node.ts `hostNodeDir()`). */
  hostNodeDir?: string;
}

export class ProcessBackend implements SandboxBackend {
  readonly name = 'process';
  readonly layout: SandboxLayout;
  private root: string | undefined;

  constructor(private readonly options: ProcessBackendOptions = {}) {
    // By default the repo's node_modules, when there is one (a missing bind source would fail every start).
    const defaultNodeModules = join(REPO_ROOT, 'node_modules');
    const nodeModulesDir =
      options.nodeModulesDir === undefined ? (existsSync(defaultNodeModules) ? defaultNodeModules : null) : options.nodeModulesDir;
    this.layout = {
      runtimeDir: options.runtimeDir ?? join(REPO_ROOT, 'dist/runtime'),
      nodeModulesDir: nodeModulesDir ?? undefined,
      systemRoots: probeSystemRoots(),
      hostNodeDir: options.hostNodeDir ?? hostNodeDir(),
    };
  }

  /**
   * The host skeleton every instance's `/` is a read-only bind of: made once, under a name that
   * hashes its entries, so backends with other layouts (tests, benches, other trees) never replace
   * a skeleton a running launcher is binding.
   */
  get rootDir(): string {
    if (!this.root) {
      const entries = skeletonEntries(this.layout);
      const hash = createHash('sha256').update(JSON.stringify(entries)).digest('hex').slice(0, 12);
      this.root = ensureSkeleton(join(this.options.skeletonParent ?? '/run/hivelab-sandbox', `root-${hash}`), this.layout);
    }
    return this.root;
  }

  async start(spec: InstanceSpec): Promise<SandboxInstance> {
    const t0 = performance.now();
    const shim = spec.manifest.command ? 'port/bridge.cjs' : spec.manifest.runtime === 'node' ? 'node/shim.cjs' : 'python/shim.py';
    if (!this.options.runtimeArgv && !existsSync(join(this.layout.runtimeDir, shim))) {
      throw new SandboxStartError(
        `runtime shim ${join(this.layout.runtimeDir, shim)} is missing: build first (tsc && node scripts/copy-assets.mjs)`,
      );
    }
    const launcher = this.options.launcherPath ?? SANDBOX_LAUNCHER;
    const missing = launcherUnavailableReason(launcher);
    if (missing) throw new SandboxStartError(`instance ${spec.instanceId}: ${missing}`);
    const uid = spec.uid ?? SANDBOX_UID_BASE;
    const gid = spec.gid ?? uid;
    // The worker mounts the run folder as the uid's own tmpfs; a caller that made a plain folder
    // (benches, tests) gets it handed to the uid here, so the runtime can create fn.sock in it.
    await mkdir(spec.runDir, { recursive: true, mode: 0o700 });
    await chown(spec.runDir, uid, gid);
    await chmod(spec.runDir, 0o700);
    // a sidecar (root) already listening there: connecting needs write permission on its socket
    await chown(join(spec.runDir, 'qp.sock'), uid, gid).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await rm(join(spec.runDir, 'fn.sock'), { force: true });
    await mkdir(dirname(spec.logFile), { recursive: true });
    let rootDir: string;
    try {
      rootDir = this.rootDir;
      if (spec.rootfs && spec.manifest.image && this.layout.hostNodeDir) ensureHostNode(this.layout.hostNodeDir);
    } catch (err) {
      throw new SandboxStartError(`instance ${spec.instanceId}: cannot make the sandbox root: ${(err as Error).message}`);
    }

    const limits: CgroupLimits = {
      memoryMB: spec.manifest.memoryMB,
      pidsMax: this.options.pidsMax,
      ...(this.options.cpuQuotaFloorVcpus !== undefined ? { cpuQuotaFloorVcpus: this.options.cpuQuotaFloorVcpus } : {}),
    };
    let cgroup: InstanceCgroup;
    try {
      cgroup = await InstanceCgroup.create(spec.instanceId, limits, this.options.cgroupRoot);
    } catch (err) {
      throw new SandboxStartError(`instance ${spec.instanceId}: ${(err as Error).message}`);
    }
    const t1 = performance.now();

    const sandboxSpec = buildSandboxSpec(
      {
        spec,
        layout: this.layout,
        cgroupProcsFiles: cgroup.procsFiles,
        rlimits: this.options.rlimits,
        runtimeArgv: this.options.runtimeArgv?.(spec),
      },
      rootDir,
    );
    const logFd = openSync(spec.logFile, 'a');
    let child: ChildProcess;
    try {
      // An empty environment: the manifest's variables travel in the spec and reach only the
      // runtime, never a host-side process (a manifest LD_PRELOAD once reached /bin/sh and bwrap).
      child = spawn(launcher, ['--spec-fd', String(SPEC_FD)], { env: {}, stdio: ['ignore', logFd, logFd, 'pipe', 'pipe'] });
      const specPipe = child.stdio[SPEC_FD] as Writable;
      specPipe.on('error', () => undefined); // a launcher that died early shows as its exit status
      specPipe.end(encodeSandboxSpec(sandboxSpec));
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
      const step = launcherStep(exit.code);
      const why =
        outcome === 'timeout'
          ? `did not become ready within ${startTimeout} ms`
          : step
            ? `could not be sandboxed: the launcher failed at ${step} (exit ${exit.code})`
            : `exited before becoming ready (${exit.reason}, code ${exit.code}, signal ${exit.signal})`;
      throw new SandboxStartError(`instance ${spec.instanceId} (${spec.manifest.runtime}) ${why}; log tail:\n${tail}`, tail);
    }
    const t2 = performance.now();
    instance.markReady({ startMs: t2 - t0, cgroupMs: t1 - t0, spawnToReadyMs: t2 - t1 });
    // CPU spent by launcher and runtime up to readiness: a noise-free companion to startMs.
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
  /** Host PID of hivelab-sandbox on the host side; the runtime is its only child. */
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

