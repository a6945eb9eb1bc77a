import { execFile } from 'node:child_process';
import { closeSync, realpathSync } from 'node:fs';
import { mkdir, readdir, realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { InstanceSpec } from '../sandbox/backend.js';
import { createHash } from 'node:crypto';
import { buildSandboxSpec, probeSystemRoots, skeletonEntries, type SandboxLayout, type SandboxSpec } from '../sandbox/launch.js';
import { ensureSkeleton } from '../sandbox/root.js';
import { ensureHostNode, hostNodeDir } from '../sandbox/host-node.js';
import { SandboxUids } from '../sandbox/uids.js';
import { CRIU_WORK_SUFFIX, makeNetns, mountCloneTmpfs, mountSharedDev, unmountRunDir } from '../sandbox/run-dir.js';
import { ensureKerndatDir, KERNDAT_DIR } from './criu.js';
import { InstanceCgroup, readyGroupName, type CgroupLimits } from '../sandbox/cgroup.js';
import { processExists } from '../core/process-exists.js';
import { LISTENER_NAME, ReadyCriu } from './ready-criu.js';
import { ensureRestoreRoot, externalMounts, imageRestoreRootPoint, mountName, sweepDeletedImageRoots, type DumpedMount, type ExternalMount } from './mounts.js';

/**
 * The host side of a snapshot instance's sandbox, per worker: the skeleton root, the read-only
 * `--root` every restore uses, the function's unprivileged uid, and each instance's run folder (a
 * tmpfs owned by that uid). The original a snapshot is taken of and every clone of it get the same
 * layout; only the run folder, /tmp, /dev/shm and the network namespace differ per clone.
 *
 * What a restore would otherwise rebuild itself, it is handed ready-made (docs/SANDBOX.md, "Restores"):
 * the sandbox's /dev, /tmp and /dev/shm are external mounts too (CRIU would save their contents with
 * tar and gzip and unpack them per clone: ~3 × 2 programs per restore), so each clone gets fresh
 * tmpfs mounts from the worker's mounter and the one read-only /dev they all share; and its network
 * namespace is external (CRIU would replay it and run an action script to bring loopback up), so
 * each clone gets one made ahead of demand, loopback up (`netns`).
 */

/** The sandbox's own tmpfs mounts a dump declares external when the instance left them empty. */
const CLONE_TMPFS = ['/tmp', '/dev/shm'] as const;
/** Read-only, the same for every instance: always external. */
const SANDBOX_DEV = '/dev';
/** Network namespaces kept ready per worker: a burst beyond them makes its own (a few ms each). */
const NETNS_READY = 2;
/**
 * CRIUs kept ready per worker (ready-criu.ts), each with its cgroups, socket and network namespace:
 * one, so a lone cold start never waits for one; a burst beyond it makes its own on the spot.
 */
const CRIU_READY = 1;
/**
 * The least memory a ready CRIU's groups allow before a claim sets the instance's own: the relay and
 * an idle `criu swrk` hold a few MB; a function's 128 MB (the suite's usual size) fits exactly.
 */
const READY_MEMORY_MB = 128;
/** Where the ready CRIUs bind their clones' sockets: in the run root, one file system with CRIU's work folders. */
const CRIU_READY_DIR = '.criu-ready';

/** A CRIU ready to restore a clone, and the groups it (and so the clone) runs in. */
export interface ClaimedCriu {
  criu: ReadyCriu;
  cgroup: InstanceCgroup;
}

const run = promisify(execFile);

export interface InstanceSandboxOptions {
  stateDir: string;
  /** Host path of `dist/runtime`. */
  runtimeDir: string;
  nodeModulesDir?: string;
  /**
   * The skeleton root (default: in CRIU's own root-only folder on /dev/shm, one per host, so the
   * read-only bind beside it is made once per boot and no state folder ever holds a mount).
   */
  rootDir?: string;
}

export class InstanceSandboxes {
  readonly rootDir: string;
  private readonly layout: SandboxLayout;
  private restoreRootReady: Promise<string> | undefined;
  private readonly uids: SandboxUids;
  private sharedDevReady: Promise<string> | undefined;
  private readonly readyNetns: Promise<number>[] = [];
  private readonly imageRoots = new Map<string, Promise<string>>();
  private swept: Promise<string[]> | undefined;
  private readonly readyCriu: Promise<ClaimedCriu>[] = [];
  private readyCriuCount = 0;
  private readyDirSwept = false;

  constructor(private readonly opts: InstanceSandboxOptions) {
    this.uids = new SandboxUids(path.join(opts.stateDir, 'sandbox-uids')); // the worker's allocation (src/worker/main.ts)
    // CRIU binds external mounts with move_mount, which refuses a symlink: real paths only
    this.layout = {
      runtimeDir: realpathSync(opts.runtimeDir),
      nodeModulesDir: opts.nodeModulesDir ? realpathSync(opts.nodeModulesDir) : undefined,
      systemRoots: probeSystemRoots(),
      hostNodeDir: hostNodeDir(),
    };
    // named after its entries: workers with another layout never replace a skeleton in use
    const hash = createHash('sha256').update(JSON.stringify(skeletonEntries(this.layout))).digest('hex').slice(0, 12);
    this.rootDir = opts.rootDir ?? path.join(KERNDAT_DIR, `sandbox-root-${hash}`);
  }

  /**
   * CRIU's `--root` for a restore: for an image instance, a read-only bind of its assembled root
   * (made once per root, beside it), else the skeleton's.
   */
  async restoreRootFor(spec: InstanceSpec): Promise<string> {
    if (!spec.rootfs) return this.restoreRoot();
    const real = await realpath(spec.rootfs);
    // beside the skeleton's, in CRIU's root-only folder: no state folder ever holds a mount; those
    // of roots deleted since (a removed state folder) are released on the way. Checked on every
    // restore (two stats), one at a time per root: an evicted root (docs/IMAGES.md) and its bind go,
    // and a re-assembled one needs a new bind.
    ensureKerndatDir();
    const swept = (this.swept ??= sweepDeletedImageRoots(KERNDAT_DIR).catch(() => []));
    const before = this.imageRoots.get(real) ?? swept;
    const p = before.catch(() => undefined).then(() => ensureRestoreRoot(real, imageRestoreRootPoint(KERNDAT_DIR, real)));
    this.imageRoots.set(real, p);
    return p;
  }

  /** The skeleton (made once) and its read-only bind, CRIU's `--root` for every restore. */
  restoreRoot(): Promise<string> {
    this.restoreRootReady ??= (async () => {
      if (!this.opts.rootDir) ensureKerndatDir();
      await mkdir(path.dirname(this.rootDir), { recursive: true, mode: 0o755 });
      ensureSkeleton(this.rootDir, this.layout);
      return ensureRestoreRoot(this.rootDir);
    })();
    this.restoreRootReady.catch(() => (this.restoreRootReady = undefined));
    return this.restoreRootReady;
  }

  /** The function's uid: the spec's (the worker allocated it), else the same allocation's. */
  async ids(spec: InstanceSpec): Promise<{ uid: number; gid: number }> {
    const uid = spec.uid ?? (await this.uids.uidFor(spec.manifest.name));
    return { uid, gid: spec.gid ?? uid };
  }

  /** Where CRIU keeps this instance's log, socket and lazy-pages socket: root's, outside the instance's reach. */
  workDir(spec: InstanceSpec): string {
    return `${spec.runDir}${CRIU_WORK_SUFFIX}`;
  }

  /**
   * The instance's run folder as a tmpfs owned by its uid (mode 0700, nosuid, nodev, noexec, 4 MiB),
   * unless the worker mounted it already. `release` unmounts what we mounted.
   */
  async prepareRunDir(spec: InstanceSpec, ids: { uid: number; gid: number }): Promise<() => Promise<void>> {
    await mkdir(spec.runDir, { recursive: true });
    const [dir, parent] = await Promise.all([stat(spec.runDir), stat(path.dirname(spec.runDir))]);
    if (dir.dev !== parent.dev) return async () => undefined; // a mount point already
    await run('mount', ['-t', 'tmpfs', '-o', `size=4m,mode=0700,uid=${ids.uid},gid=${ids.gid},nosuid,nodev,noexec`, 'tmpfs', spec.runDir], { timeout: 10_000 });
    return async () => {
      await run('umount', ['-l', spec.runDir], { timeout: 10_000 }).catch(() => undefined);
    };
  }

  /** The instance's sandbox, as for a boot, with real host paths (CRIU's external mounts must be). */
  private async sandboxSpec(spec: InstanceSpec, ids: { uid: number; gid: number }, cgroupProcsFiles: string[]): Promise<SandboxSpec> {
    const real = {
      ...spec,
      ...ids,
      functionDir: await realpath(spec.functionDir),
      runDir: await realpath(spec.runDir),
      ...(spec.rootfs ? { rootfs: await realpath(spec.rootfs) } : {}),
    };
    if (spec.rootfs && spec.manifest.image && this.layout.hostNodeDir) ensureHostNode(this.layout.hostNodeDir);
    return buildSandboxSpec({ spec: real, layout: this.layout, cgroupProcsFiles }, this.rootDir);
  }

  /** The launcher spec of the instance a snapshot is taken of (launcher.ts drops its readiness pipe). */
  async launchSpec(spec: InstanceSpec, ids: { uid: number; gid: number }, cgroupProcsFiles: string[]): Promise<SandboxSpec> {
    await this.restoreRoot();
    const s = await this.sandboxSpec(spec, ids, cgroupProcsFiles);
    // the runtime prepares what every clone needs after a restore (src/runtime/node/reseed.cts)
    return { ...s, env: { ...s.env, HIVELAB_SNAPSHOT: '1' } };
  }

  /**
   * What a dump of this instance declares external: its binds, /dev, and /tmp and /dev/shm if it left
   * them empty (a function that wrote there at start-up keeps what it wrote: CRIU saves those).
   */
  async dumpMounts(launchSpec: SandboxSpec, pid: number): Promise<DumpedMount[]> {
    const own: DumpedMount[] = [{ name: mountName(SANDBOX_DEV), target: SANDBOX_DEV }];
    for (const target of CLONE_TMPFS) {
      const entries = await readdir(`/proc/${pid}/root${target}`).catch(() => null);
      if (entries?.length === 0) own.push({ name: mountName(target), target });
    }
    return [...externalMounts(launchSpec.binds), ...own];
  }

  /**
   * This clone's host folders for the snapshot's external mounts: the binds (its own run folder,
   * made by `prepareRunDir`), a fresh tmpfs for each of /tmp and /dev/shm the dump declared, sized as
   * a boot's, and the shared /dev. `release` unmounts the clone's own.
   */
  async cloneMounts(spec: InstanceSpec, imageMounts: DumpedMount[]): Promise<{ mounts: ExternalMount[]; release: () => Promise<void> }> {
    const sandbox = await this.sandboxSpec(spec, await this.ids(spec), []);
    const mounts = externalMounts(sandbox.binds);
    const own: string[] = [];
    const release = async () => {
      await Promise.all(own.map((dir) => unmountRunDir(dir)));
    };
    // side by side: the mounter takes requests in a row, so the second waits for no round trip
    const made = await Promise.allSettled(
      imageMounts.map(async (m): Promise<ExternalMount | undefined> => {
        if (m.target === SANDBOX_DEV) return { ...m, source: await this.sharedDev() };
        if (!(CLONE_TMPFS as readonly string[]).includes(m.target)) return undefined;
        const source = path.join(this.workDir(spec), m.name);
        const t = m.target === '/tmp' ? sandbox.tmpfs.find((x) => x.dst === '/tmp') : { sizeBytes: sandbox.shmBytes, mode: 0o1777, noexec: true };
        if (!t) throw new Error(`the sandbox of ${spec.instanceId} has no /tmp`);
        await mountCloneTmpfs(source, t.sizeBytes, t.mode, !t.noexec);
        own.push(source);
        return { ...m, source };
      }),
    );
    const failed = made.find((r) => r.status === 'rejected');
    if (failed) {
      await release();
      throw failed.reason;
    }
    for (const r of made) if (r.status === 'fulfilled' && r.value) mounts.push(r.value);
    return { mounts, release };
  }

  /** The read-only /dev every clone on this host shares (made once per boot, beside the restore root). */
  private sharedDev(): Promise<string> {
    this.sharedDevReady ??= (async () => {
      const dir = `${this.rootDir}.dev`;
      const [d, parent] = await Promise.all([stat(dir).catch(() => null), stat(path.dirname(dir))]);
      if (!d || d.dev === parent.dev) await mountSharedDev(dir);
      return dir;
    })();
    this.sharedDevReady.catch(() => (this.sharedDevReady = undefined));
    return this.sharedDevReady;
  }

  /**
   * A network namespace for a clone, loopback up, as a descriptor the caller closes once CRIU has
   * it. Kept ready ahead of demand: making one (and the first use's RCU grace) is off the restore.
   */
  async netns(): Promise<number> {
    const fd = await (this.readyNetns.shift() ?? makeNetns());
    while (this.readyNetns.length < NETNS_READY) {
      const next = makeNetns();
      next.catch(() => undefined);
      this.readyNetns.push(next);
    }
    return fd;
  }

  /**
   * A CRIU ready to restore `spec`'s clone into its sandbox, its groups named after the instance and
   * limited: one made ahead of demand when there is one, else one made now. The clone's socket is at
   * `<workDir>/fn.sock` either way. The next one is made by `refillCriu` once this start is done, not
   * during it: on 2 cores, starting a CRIU competes with the restore for the CPU.
   */
  async claimCriu(spec: InstanceSpec, limits: CgroupLimits): Promise<ClaimedCriu> {
    const listenerPath = path.join(this.workDir(spec), LISTENER_NAME);
    await mkdir(this.workDir(spec), { recursive: true });
    let pooled: ClaimedCriu | undefined;
    while (!pooled && this.readyCriu.length > 0) {
      const next = await this.readyCriu.shift()!.catch(() => undefined);
      if (next && !next.criu.ended) pooled = next;
      else if (next) void next.cgroup.remove().catch(() => undefined);
    }
    if (pooled) {
      try {
        const cgroup = await pooled.cgroup.renameTo(spec.instanceId);
        await cgroup.setLimits(limits);
        await pooled.criu.moveListener(listenerPath);
        return { criu: pooled.criu, cgroup };
      } catch (err) {
        pooled.criu.kill();
        await InstanceCgroup.of(spec.instanceId).remove().catch(() => undefined);
        await pooled.cgroup.remove().catch(() => undefined);
        throw err;
      }
    }
    const cgroup = await InstanceCgroup.create(spec.instanceId, limits);
    try {
      return { criu: await this.startCriu(cgroup, listenerPath), cgroup };
    } catch (err) {
      await cgroup.remove().catch(() => undefined);
      throw err;
    }
  }

  private async startCriu(cgroup: InstanceCgroup, listenerPath: string): Promise<ReadyCriu> {
    const netns = await this.netns();
    try {
      // handed out only once its socket is bound (a claim renames it at once)
      return await ReadyCriu.started({ cgroupProcs: cgroup.procsFiles, netns, listenerPath });
    } finally {
      closeSync(netns); // the relay holds its own copy
    }
  }

  /** Tops the ready CRIUs up in the background (their groups get their real limits when claimed). */
  refillCriu(limits: CgroupLimits): void {
    while (this.readyCriu.length < CRIU_READY) {
      const n = this.readyCriuCount++;
      const next = (async () => {
        const dir = await this.criuReadyDir();
        const cgroup = await InstanceCgroup.make(readyGroupName(process.pid, n));
        try {
          // the limits of the start just done: the next claim, likely by the same function, then
          // has them already (a claim by another sets its own); at least READY_MEMORY_MB for what
          // the relay and CRIU's start-up hold before any claim
          await cgroup.setLimits({ ...limits, memoryMB: Math.max(limits.memoryMB, READY_MEMORY_MB) });
          return { criu: await this.startCriu(cgroup, path.join(dir, `${n}.sock`)), cgroup };
        } catch (err) {
          await cgroup.remove().catch(() => undefined);
          throw err;
        }
      })();
      next.catch(() => undefined);
      this.readyCriu.push(next);
    }
  }

  /** This worker's folder of ready sockets; those of workers that are gone are removed on the way. */
  private async criuReadyDir(): Promise<string> {
    const parent = path.join(this.opts.stateDir, 'run', CRIU_READY_DIR);
    if (!this.readyDirSwept) {
      this.readyDirSwept = true;
      for (const pid of await readdir(parent).catch(() => [] as string[])) {
        if (/^\d+$/.test(pid) && !processExists(Number(pid))) await rm(path.join(parent, pid), { recursive: true, force: true });
      }
    }
    const dir = path.join(parent, String(process.pid));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  /** Removes CRIU's work folder of an instance that is gone. */
  async cleanup(spec: InstanceSpec): Promise<void> {
    await rm(this.workDir(spec), { recursive: true, force: true });
  }
}
