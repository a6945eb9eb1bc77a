import { execFile, spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ImageConfig } from '../../src/image-build/oci.js';

/**
 * Runs an image archive made by `hivelab build` under a real OCI runtime (Debian's runc or crun),
 * the way a container engine would: the OCI layout is read from the tar, the layers are unpacked
 * in order into a bundle's rootfs, config.json is `runc spec`'s default with the image config's
 * Entrypoint/Cmd, Env, WorkingDir and User. The container gets its own network namespace (the
 * runtime brings loopback up); the test reaches it by running its client inside that namespace
 * (`nsenter --net`), so no port of the host is taken and vSwarm's fixed 50051 cannot collide.
 * Each container uses a private runtime state folder; `stop()` always deletes it with `delete -f`.
 *
 * crun on this host: bookworm's crun 1.8 refuses a hybrid cgroup layout whose cgroup v2 hierarchy
 * has a controller ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2";
 * here the v2 hierarchy at /sys/fs/cgroup/unified holds hugetlb, which no v1 hierarchy mounts).
 * So every crun command runs in a private mount namespace in which that cgroup2 mount is
 * unmounted: crun sees a pure cgroup v1 layout, as runc uses it. The host's mounts are untouched
 * (the namespace's propagation is private) and the container inherits the namespace.
 */

const run = promisify(execFile);

export type OciRuntime = 'runc' | 'crun';

/** Where a hybrid layout mounts its cgroup v2 hierarchy (systemd's name for it). */
const UNIFIED = '/sys/fs/cgroup/unified';

/**
 * Pure: the command line that runs `rt args…` here. runc as it is; crun, on a hybrid layout, inside
 * `unshare --mount --propagation private` after unmounting the cgroup2 hierarchy (see above).
 */
export function runtimeCommand(rt: OciRuntime, args: string[], hybrid: boolean): [string, string[]] {
  if (rt === 'runc' || !hybrid) return [rt, args];
  return ['unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', `umount ${UNIFIED} && exec crun "$@"`, 'crun', ...args]];
}

/** Whether /sys/fs/cgroup is a cgroup v1 tmpfs with a cgroup2 hierarchy mounted beside it (hybrid). */
async function hybridCgroups(): Promise<boolean> {
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  return mounts.split('\n').some((l) => {
    const [, point, type] = l.split(' ');
    return point === UNIFIED && type === 'cgroup2';
  });
}

/** Runs the runtime (through runtimeCommand) with a deadline; resolves to its stdout. */
async function runtime(rt: OciRuntime, args: string[]): Promise<{ stdout: string }> {
  const [cmd, argv] = runtimeCommand(rt, args, await hybridCgroups());
  return run(cmd, argv, { timeout: 60_000 });
}

export async function ociRuntimeUnavailable(rt: OciRuntime = 'runc'): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'not root';
  try {
    await run(rt, ['--version']);
  } catch {
    return `${rt} is not installed (apt-get install -y ${rt})`;
  }
  return null;
}

export interface UnpackedImage {
  config: ImageConfig;
  manifest: { layers: { digest: string; mediaType: string; size: number }[]; config: { digest: string } };
  index: { manifests: { digest: string; annotations?: Record<string, string> }[] };
  rootfs: string;
}

/** Reads the layout in `archive` and unpacks its layers into `<bundle>/rootfs`. */
export async function unpackImage(archive: string, bundle: string): Promise<UnpackedImage> {
  const layout = join(bundle, 'layout');
  await mkdir(layout, { recursive: true });
  await run('tar', ['-xf', archive, '-C', layout]);
  const blob = async (digest: string) => readFile(join(layout, 'blobs', 'sha256', digest.replace(/^sha256:/, '')));
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as UnpackedImage['index'];
  const manifest = JSON.parse((await blob(index.manifests[0]!.digest)).toString()) as UnpackedImage['manifest'];
  const config = JSON.parse((await blob(manifest.config.digest)).toString()) as ImageConfig;
  const rootfs = join(bundle, 'rootfs');
  await mkdir(rootfs, { recursive: true });
  for (const l of manifest.layers) {
    await run('tar', ['-xzf', join(layout, 'blobs', 'sha256', l.digest.replace(/^sha256:/, '')), '-C', rootfs, '--numeric-owner', '--same-permissions'], { maxBuffer: 1 << 24 });
  }
  await rm(layout, { recursive: true, force: true });
  return { config, manifest, index, rootfs };
}

export interface Container {
  id: string;
  pid: number;
  log: () => Promise<string>;
  /** Runs `node --input-type=module -e script` inside the container's network namespace; resolves to its stdout. */
  inNetns: (script: string, timeoutMs?: number) => Promise<string>;
  stop: () => Promise<void>;
}

let seq = 0;

/** Starts `archive` under `rt`; `env` is added to the image's environment (as `docker run -e`). */
export async function runImage(archive: string, o: { rt?: OciRuntime; env?: Record<string, string> } = {}): Promise<Container> {
  const rt = o.rt ?? 'runc';
  const bundle = await mkdtemp(join(tmpdir(), 'hivelab-oci-'));
  const state = join(bundle, 'state');
  const id = `hivelab-test-${process.pid}-${++seq}`;
  let created = false;
  const stop = async () => {
    if (created) await runtime(rt, ['--root', state, 'delete', '-f', id]).catch(() => undefined);
    await rm(bundle, { recursive: true, force: true });
  };
  try {
    const image = await unpackImage(archive, bundle);
    const hybrid = await hybridCgroups();
    await runtime(rt, ['spec', '--bundle', bundle]);
    const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as {
      process: Record<string, unknown>;
      root: Record<string, unknown>;
      hostname?: string;
    };
    const c = image.config.config;
    const [uid, gid] = (c.User || '0:0').split(':').map(Number);
    spec.process.terminal = false;
    spec.process.args = [...c.Entrypoint, ...(c.Cmd ?? [])];
    spec.process.env = [...c.Env, ...Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`)];
    spec.process.cwd = c.WorkingDir || '/';
    spec.process.user = { uid: uid ?? 0, gid: gid ?? uid ?? 0 };
    spec.root = { path: 'rootfs', readonly: false };
    spec.hostname = 'hivelab-test';
    await writeFile(join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
    await mkdir(state, { recursive: true });
    const logPath = join(bundle, 'container.log');
    const fd = openSync(logPath, 'a');
    try {
      created = true;
      await new Promise<void>((resolve, reject) => {
        const [cmd, argv] = runtimeCommand(rt, ['--root', state, 'run', '--detach', '--bundle', bundle, id], hybrid);
        const p = spawn(cmd, argv, { stdio: ['ignore', fd, fd], timeout: 120_000 });
        p.once('error', reject);
        p.once('close', (code) => {
          if (code === 0) resolve();
          else void readFile(logPath, 'utf8').then((l) => reject(new Error(`${rt} run exited ${code}: ${l.trim()}`)), reject);
        });
      });
    } finally {
      closeSync(fd);
    }
    const st = JSON.parse((await runtime(rt, ['--root', state, 'state', id])).stdout) as { pid: number; status: string };
    const log = async () => (existsSync(logPath) ? readFile(logPath, 'utf8') : '');
    const inNetns = async (script: string, timeoutMs = 60_000) => {
      const { stdout } = await run('nsenter', [`--net=/proc/${st.pid}/ns/net`, process.execPath, '--input-type=module', '-e', script], {
        cwd: process.cwd(),
        timeout: timeoutMs,
        maxBuffer: 1 << 24,
      });
      return stdout;
    };
    return { id, pid: st.pid, log, inNetns, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A script for `inNetns`: waits until 127.0.0.1:port accepts (up to `waitMs`), then POSTs `body` to `/` and prints {status, body}. */
export function postScript(port: number, body: string, waitMs = 30_000): string {
  return `
import net from 'node:net';
const deadline = Date.now() + ${waitMs};
for (;;) {
  const ok = await new Promise((r) => { const s = net.connect(${port}, '127.0.0.1'); s.once('connect', () => { s.destroy(); r(true); }); s.once('error', () => r(false)); });
  if (ok) break;
  if (Date.now() > deadline) { console.error('nothing listens on ${port}'); process.exit(3); }
  await new Promise((r) => setTimeout(r, 100));
}
const res = await fetch('http://127.0.0.1:${port}/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: ${JSON.stringify(body)} });
console.log(JSON.stringify({ status: res.status, body: await res.text() }));
`;
}
