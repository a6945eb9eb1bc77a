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
 */

const run = promisify(execFile);

export type OciRuntime = 'runc' | 'crun';

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
    if (created) await run(rt, ['--root', state, 'delete', '-f', id]).catch(() => undefined);
    await rm(bundle, { recursive: true, force: true });
  };
  try {
    const image = await unpackImage(archive, bundle);
    await run(rt, ['spec', '--bundle', bundle]);
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
        const p = spawn(rt, ['--root', state, 'run', '--detach', '--bundle', bundle, id], { stdio: ['ignore', fd, fd] });
        p.once('error', reject);
        p.once('close', (code) => {
          if (code === 0) resolve();
          else void readFile(logPath, 'utf8').then((l) => reject(new Error(`${rt} run exited ${code}: ${l.trim()}`)), reject);
        });
      });
    } finally {
      closeSync(fd);
    }
    const st = JSON.parse((await run(rt, ['--root', state, 'state', id])).stdout) as { pid: number; status: string };
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
