import { execFile } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { mkdir, open, readdir, readFile, realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { InstanceSpec } from '../sandbox/backend.js';
import { probeSystemRoots, runtimeArgvFor, runtimeEnv } from '../sandbox/launch.js';
import { ensureKerndatDir, KERNDAT_DIR } from './criu.js';
import { ensureSkeleton, snapshotSandboxSpec, type SnapshotLaunchSpec } from './launcher.js';
import { ensureRestoreRoot, externalMounts, type ExternalMount } from './mounts.js';

/**
 * The host side of a snapshot instance's sandbox, per worker: the skeleton root, the read-only
 * `--root` every restore uses, the function's unprivileged uid, and each instance's run folder (a
 * tmpfs owned by that uid). The original a snapshot is taken of and every clone of it get the same
 * layout; only the run folder (and CRIU's own fresh /tmp, /dev, /proc) differ per clone.
 */

const run = promisify(execFile);

/** The first uid of the function range (docs/SANDBOX.md): no host account lives at or above it. */
const UID_BASE = 100_000;

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

/** An instance's uid/gid: the spec's (the worker's allocation) when given. */
type WithIds = InstanceSpec & { uid?: number; gid?: number };

export class InstanceSandboxes {
  readonly rootDir: string;
  private readonly systemDirs = probeSystemRoots()
    .filter((r) => r.kind === 'dir')
    .map((r) => r.path);
  private restoreRootReady: Promise<string> | undefined;
  private readonly uidDir: string;

  private readonly runtimeDir: string;
  private readonly nodeModulesDir: string | undefined;

  constructor(private readonly opts: InstanceSandboxOptions) {
    this.rootDir = opts.rootDir ?? path.join(KERNDAT_DIR, 'sandbox-root');
    this.uidDir = path.join(opts.stateDir, 'sandbox', 'uids');
    // CRIU binds external mounts with move_mount, which refuses a symlink: real paths only
    this.runtimeDir = realpathSync(opts.runtimeDir);
    this.nodeModulesDir = opts.nodeModulesDir ? realpathSync(opts.nodeModulesDir) : undefined;
  }

  /** The skeleton (made once) and its read-only bind, CRIU's `--root` for every restore. */
  restoreRoot(): Promise<string> {
    this.restoreRootReady ??= (async () => {
      if (!this.opts.rootDir) ensureKerndatDir();
      await mkdir(path.dirname(this.rootDir), { recursive: true, mode: 0o755 });
      ensureSkeleton(this.rootDir, this.systemDirs, true);
      return ensureRestoreRoot(this.rootDir);
    })();
    this.restoreRootReady.catch(() => (this.restoreRootReady = undefined));
    return this.restoreRootReady;
  }

  /**
   * The function's uid: the spec's when the worker allocated one, else one of the function range
   * recorded in `<state>/sandbox/uids/<uid>` (the file holds the function's name, made with O_EXCL:
   * two functions never share a uid, so one cannot signal or read another's instances).
   */
  async ids(spec: InstanceSpec): Promise<{ uid: number; gid: number }> {
    const s = spec as WithIds;
    if (typeof s.uid === 'number') return { uid: s.uid, gid: s.gid ?? s.uid };
    await mkdir(this.uidDir, { recursive: true, mode: 0o700 });
    const name = spec.manifest.name;
    let highest = UID_BASE - 1;
    for (const f of (await readdir(this.uidDir)).sort((a, b) => Number(a) - Number(b))) {
      const uid = Number(f);
      if (!Number.isInteger(uid)) continue;
      highest = Math.max(highest, uid);
      if ((await readFile(path.join(this.uidDir, f), 'utf8').catch(() => '')) === name) return { uid, gid: uid };
    }
    for (let uid = highest + 1; ; uid++) {
      try {
        const fh = await open(path.join(this.uidDir, String(uid)), 'wx', 0o600);
        await fh.writeFile(name);
        await fh.close();
        return { uid, gid: uid };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  }

  /** Where CRIU keeps this instance's log, pidfile and lazy-pages socket: root's, outside the instance's reach. */
  workDir(spec: InstanceSpec): string {
    return `${spec.runDir}.criu`;
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

  /** The launcher spec of the instance a snapshot is taken of. */
  async launchSpec(spec: InstanceSpec, ids: { uid: number; gid: number }): Promise<SnapshotLaunchSpec> {
    await this.restoreRoot();
    const env = runtimeEnv(spec);
    delete env.HIVELAB_READY_FD; // no descriptor may lead out of a snapshot: readiness is polled
    return snapshotSandboxSpec({
      instanceId: spec.instanceId,
      rootDir: this.rootDir,
      systemDirs: this.systemDirs,
      functionDir: await realpath(spec.functionDir),
      runtimeDir: this.runtimeDir,
      nodeModulesDir: this.nodeModulesDir,
      runDir: await realpath(spec.runDir),
      uid: ids.uid,
      gid: ids.gid,
      memoryMB: spec.manifest.memoryMB,
      argv: runtimeArgvFor(spec.manifest.runtime),
      env,
    });
  }

  /** This clone's host folders for the snapshot's external mounts (its own run folder, made by `prepareRunDir`). */
  async mounts(spec: InstanceSpec): Promise<ExternalMount[]> {
    const functionDir = await realpath(spec.functionDir);
    return externalMounts(
      snapshotSandboxSpec({
        instanceId: spec.instanceId,
        rootDir: this.rootDir,
        systemDirs: this.systemDirs,
        functionDir,
        runtimeDir: this.runtimeDir,
        nodeModulesDir: this.nodeModulesDir,
        runDir: await realpath(spec.runDir),
        uid: 0,
        gid: 0,
        memoryMB: spec.manifest.memoryMB,
        argv: ['/'],
        env: {},
      }).binds,
    );
  }

  /** Removes CRIU's work folder of an instance that is gone. */
  async cleanup(spec: InstanceSpec): Promise<void> {
    await rm(this.workDir(spec), { recursive: true, force: true });
  }
}
