import { existsSync, realpathSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { copyFile, cp, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadManifest } from '../manifest/validate.js';
import type { FunctionManifest } from '../manifest/schema.js';
import { BASE_ENV } from '../sandbox/launch.js';
import { baseLayer, hostArch, hostSources, hostSuite, type BaseLayer } from './base.js';
import { debianPackagesFor, isSkipped, nodeModulesClosure, nodeRequirements } from './contents.js';
import { makeLayer, type Layer } from './layer.js';
import { imageManifest, jsonBlob, writeImageArchive, type ContainerConfig, type ImageConfig } from './oci.js';

/**
 * `hivelab build`: a function folder as an OCI image that serves Knative's runtime contract
 * (HTTP/1.1 or h2c on $PORT) under any OCI runtime. The layers, bottom up:
 *
 *   1. base     Debian from mmdebstrap (base.ts): the Essential set plus the runtime's packages
 *   2. node     the host's Node 20 binary at /usr/bin/node (Node handlers and Node servers)
 *   3. runtime  the handler shim at /opt/hivelab/runtime (handlers only): listens on $PORT and takes
 *               `POST /` (the event as the body, as Knative functions do) or `POST /invoke`
 *   4. modules  the npm packages the code requires, from the platform's node_modules, at /node_modules
 *               (where an instance sees them too, so Node's lookup from /var/task finds them)
 *   5. function the folder itself at /var/task, the working directory
 *
 * Why the host's Node and not Debian's `nodejs`: bookworm's is Node 18, and the shim needs Node 20
 * (require() of ES modules, which Node 20.19 has, keeps the ESM loader off the cold-start path);
 * the host runs the same Debian release, and its Node links only glibc, libstdc++ and libgcc_s, so
 * the binary runs unchanged on the base once libstdc++6 is in it. Python uses Debian's python3.
 *
 * A server program (`command`) is the image's entrypoint as it is; there is no shim in between,
 * because such a program already serves Knative's contract on its own port.
 */

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_BASE_CACHE = join(REPO_ROOT, '.cache', 'hivelab-build');
export const IMAGE_TASK_ROOT = '/var/task';
export const IMAGE_RUNTIME_DIR = '/opt/hivelab/runtime';
/** Knative's default $PORT, where handler images listen. */
export const HANDLER_PORT = 8080;
/** nobody:nogroup: the function needs no privilege and no files of its own outside /tmp. */
export const IMAGE_USER = '65534:65534';

export interface BuildOptions {
  dir: string;
  out: string;
  baseCache?: string;
  /** Debian packages on top of what the function is found to need. */
  packages?: string[];
  suite?: string;
  /** Also Docker's manifest.json, so `docker load` takes the file. */
  docker?: boolean;
  /** The tag in the layout (default `latest`) and the repository name (default `hivelab/<name>`). */
  tag?: string;
  repository?: string;
  progress?: (line: string) => void;
  /** Where the platform's runtime shims and node_modules are (default: this checkout's dist/runtime and node_modules). */
  runtimeDir?: string;
  nodeModulesRoot?: string;
  nodeBinary?: string;
}

export interface BuiltLayer {
  what: string;
  digest: string;
  diffId: string;
  size: number;
}

export interface BuildResult {
  out: string;
  name: string;
  manifestDigest: string;
  configDigest: string;
  config: ImageConfig;
  layers: BuiltLayer[];
  archiveBytes: number;
  base: { key: string; built: boolean; packages: string[]; mmdebstrapSeconds: number };
  warnings: string[];
  seconds: number;
}

/** Every entry's mtime and the config's `created`: SOURCE_DATE_EPOCH when set, else the epoch. */
export function buildEpoch(): number {
  const e = process.env.SOURCE_DATE_EPOCH;
  if (e === undefined || e === '') return 0;
  if (!/^\d+$/.test(e)) throw new Error(`SOURCE_DATE_EPOCH=${JSON.stringify(e)} is not a number of seconds`);
  return Number(e);
}

export function containerConfigFor(m: FunctionManifest, version: string): ContainerConfig {
  const port = m.command ? m.port : HANDLER_PORT;
  const env: Record<string, string> = {
    ...BASE_ENV,
    ...m.env,
    PORT: String(port),
  };
  if (!m.command) {
    Object.assign(env, {
      HIVELAB_TASK_ROOT: IMAGE_TASK_ROOT,
      HIVELAB_HANDLER: m.handler ?? '',
      HIVELAB_FUNCTION: m.name,
      HIVELAB_MEMORY_MB: String(m.memoryMB),
      HIVELAB_TIMEOUT_MS: String(m.timeoutMs),
    });
  }
  const entrypoint = m.command ?? (m.runtime === 'node' ? ['/usr/bin/node', `${IMAGE_RUNTIME_DIR}/node/shim.cjs`] : ['/usr/bin/python3', `${IMAGE_RUNTIME_DIR}/python/shim.py`]);
  return {
    User: IMAGE_USER,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Entrypoint: entrypoint,
    WorkingDir: IMAGE_TASK_ROOT,
    ExposedPorts: { [`${port}/tcp`]: {} },
    Labels: {
      'org.opencontainers.image.title': m.name,
      'org.opencontainers.image.version': version,
      'dev.hivelab.function.protocol': m.protocol,
      // The function's settings travel with the image: `hivelab deploy --image` may read them.
      'dev.hivelab.function.manifest': JSON.stringify(m),
    },
  };
}

async function copyTree(src: string, dst: string): Promise<void> {
  await cp(src, dst, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (p) => !isSkipped(p.slice(p.lastIndexOf('/') + 1)) && !p.endsWith('.map'),
  });
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path)).size;
}

export async function buildImage(o: BuildOptions): Promise<BuildResult> {
  const started = Date.now();
  const progress = o.progress ?? (() => undefined);
  const dir = resolve(o.dir);
  const manifest = await loadManifest(dir);
  const mtime = buildEpoch();
  const runtimeDir = o.runtimeDir ?? join(REPO_ROOT, 'dist', 'runtime');
  const nodeModulesRoot = o.nodeModulesRoot ?? REPO_ROOT;
  const warnings: string[] = [];

  const plan = await debianPackagesFor(manifest, dir, o.packages ?? []);
  warnings.push(...plan.warnings);
  const sources = hostSources();
  const spec = { suite: o.suite ?? hostSuite(), arch: hostArch(), packages: plan.packages, sources: sources.text };
  const base: BaseLayer = await baseLayer(spec, { cacheDir: o.baseCache ?? DEFAULT_BASE_CACHE, mtime, progress, sourcesPath: sources.path });

  const work = await mkdtemp(join(tmpdir(), 'hivelab-build-'));
  try {
    const layers: { what: string; layer: Layer }[] = [{ what: `base (Debian ${spec.suite} ${spec.arch}, essential + ${plan.packages.join(' ') || 'nothing'})`, layer: base }];
    const stage = async (what: string, fill: (root: string) => Promise<void>): Promise<void> => {
      const root = join(work, `stage-${layers.length}`);
      await mkdir(root, { recursive: true });
      await fill(root);
      progress(`layer: ${what}`);
      layers.push({ what, layer: await makeLayer(root, join(work, `layer-${layers.length}.tar.gz`), { mtime, ownerRoot: true, normaliseModes: true }) });
    };

    if (plan.needsNode) {
      const node = realpathSync(o.nodeBinary ?? process.execPath);
      const what = `node ${process.version} (${node})`;
      // Compressing Node's ~100 MB takes seconds: the layer is cached by the binary's content.
      const key = createHash('sha256').update(await readFile(node)).digest('hex');
      const cached = join(o.baseCache ?? DEFAULT_BASE_CACHE, `node-${key.slice(0, 32)}`);
      const meta = join(cached, 'layer.json');
      if (existsSync(meta) && existsSync(join(cached, 'layer.tar.gz'))) {
        progress(`layer: ${what} (cached)`);
        layers.push({ what, layer: { ...(JSON.parse(await readFile(meta, 'utf8')) as Omit<Layer, 'path'>), path: join(cached, 'layer.tar.gz') } });
      } else {
        await stage(what, async (root) => {
          await mkdir(join(root, 'usr/bin'), { recursive: true });
          await copyFile(node, join(root, 'usr/bin/node'));
        });
        const made = layers[layers.length - 1]!.layer;
        const tmp = `${cached}.tmp-${process.pid}`;
        await mkdir(tmp, { recursive: true });
        await copyFile(made.path, join(tmp, 'layer.tar.gz'));
        await writeFile(join(tmp, 'layer.json'), JSON.stringify({ digest: made.digest, diffId: made.diffId, size: made.size }));
        await rm(cached, { recursive: true, force: true });
        await rename(tmp, cached);
      }
    }
    if (!manifest.command) {
      const sub = manifest.runtime === 'node' ? 'node' : 'python';
      const from = join(runtimeDir, sub);
      if (!existsSync(from)) throw new Error(`runtime shim folder ${from} is missing: build first (npx tsc -p . && node scripts/copy-assets.mjs)`);
      await stage(`runtime shim (${IMAGE_RUNTIME_DIR}/${sub})`, async (root) => {
        const to = join(root, IMAGE_RUNTIME_DIR.slice(1));
        await mkdir(to, { recursive: true });
        await copyTree(from, join(to, sub));
        if (existsSync(join(runtimeDir, 'package.json'))) await copyFile(join(runtimeDir, 'package.json'), join(to, 'package.json'));
      });
    }
    if (manifest.runtime === 'node') {
      const wanted = await nodeRequirements(dir);
      if (wanted.length) {
        const closure = await nodeModulesClosure(nodeModulesRoot, wanted);
        if (closure.missing.length) {
          throw new Error(`${dir} requires npm packages that neither its own node_modules nor ${join(nodeModulesRoot, 'node_modules')} holds: ${closure.missing.join(', ')}`);
        }
        await stage(`npm packages for ${wanted.join(', ')} (${closure.packages.length} with dependencies, /node_modules)`, async (root) => {
          for (const p of closure.packages) await copyTree(join(nodeModulesRoot, 'node_modules', p), join(root, 'node_modules', p));
        });
      }
    }
    await stage(`function ${manifest.name} (${IMAGE_TASK_ROOT})`, async (root) => {
      const to = join(root, IMAGE_TASK_ROOT.slice(1));
      await mkdir(dirname(to), { recursive: true });
      await copyTree(dir, to);
    });

    const all = layers.map((l) => l.layer);
    // The version label: the function layer's digest names exactly the folder that went in.
    const version = all[all.length - 1]!.digest.slice('sha256:'.length, 'sha256:'.length + 12);
    const created = new Date(mtime * 1000).toISOString().replace(/\.000Z$/, 'Z');
    const config: ImageConfig = {
      created,
      architecture: spec.arch,
      os: 'linux',
      config: containerConfigFor(manifest, version),
      rootfs: { type: 'layers', diff_ids: all.map((l) => l.diffId) },
      history: layers.map((l) => ({ created, created_by: `hivelab build: ${l.what}` })),
    };
    const configBlob = jsonBlob(config);
    const manifestBlob = jsonBlob(imageManifest(configBlob, all, { 'org.opencontainers.image.title': manifest.name, 'org.opencontainers.image.created': created }));
    const repository = o.repository ?? `hivelab/${manifest.name}`;
    const tag = o.tag ?? 'latest';
    const out = resolve(o.out);
    await mkdir(dirname(out), { recursive: true });
    progress(`image: writing ${o.docker ? 'oci-archive + docker manifest.json' : 'oci-archive'} ${out}`);
    await writeImageArchive(out, { config: configBlob, manifest: manifestBlob, layers: all, tag, repoTag: `${repository}:${tag}`, arch: spec.arch, docker: o.docker ?? false, mtime });
    return {
      out,
      name: manifest.name,
      manifestDigest: manifestBlob.digest,
      configDigest: configBlob.digest,
      config,
      layers: layers.map((l) => ({ what: l.what, digest: l.layer.digest, diffId: l.layer.diffId, size: l.layer.size })),
      archiveBytes: await sizeOf(out),
      base: { key: base.key, built: base.built, packages: plan.packages, mmdebstrapSeconds: base.mmdebstrapSeconds },
      warnings,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A summary file beside the image (`IMAGE.tar.json`): digests and layers, for scripts and the knative provider. */
export async function writeBuildSummary(r: BuildResult, path = `${r.out}.json`): Promise<void> {
  const { config: _config, ...rest } = r;
  await writeFile(path, `${JSON.stringify(rest, null, 2)}\n`);
}
