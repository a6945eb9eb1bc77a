import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeLayer, type Layer } from './layer.js';

/**
 * The base layer: a Debian root file system made at build time by `mmdebstrap` from Debian's own
 * packages (variant `essential`: dpkg's Essential set, no apt, no init), plus what the function's
 * runtime needs. It takes about a minute and a few hundred MB of downloads, so it is cached,
 * content-addressed by everything that decides its contents: suite, architecture, variant, the
 * sorted package list and the apt sources. The same key reuses the same blob, hence the same digest.
 *
 * Documentation, manual pages and translations are left out, except each package's copyright
 * file: the image redistributes the packages, and their licences go with them.
 */

export const BASE_VARIANT = 'essential';

export interface BaseSpec {
  suite: string;
  arch: string;
  /** Debian packages on top of the Essential set, sorted and unique. */
  packages: string[];
  /** apt sources (deb822 or one-line), as text: part of the key. */
  sources: string;
}

export interface BaseLayer extends Layer {
  key: string;
  spec: BaseSpec;
  /** Whether this build made it (false: found in the cache). */
  built: boolean;
  /** Seconds mmdebstrap took when it was made. */
  mmdebstrapSeconds: number;
}

/**
 * Pruned after mmdebstrap rather than filtered by dpkg (`--dpkgopt=path-exclude`): dpkg's filter
 * runs mmtarfilter, a Python script, once per package, which tripled the base's build time here.
 * The image has no dpkg tooling in use, so its database listing the pruned files does no harm.
 */
const PRUNED = ['usr/share/man', 'usr/share/info', 'usr/share/locale'];

/** Keeps each package's copyright file (the licence goes with the redistributed package), drops the rest of its docs. */
async function pruneDocs(rootfs: string): Promise<void> {
  for (const p of PRUNED) {
    const path = join(rootfs, p);
    if (existsSync(path)) for (const e of await readdir(path)) await rm(join(path, e), { recursive: true, force: true });
  }
  const docs = join(rootfs, 'usr/share/doc');
  if (!existsSync(docs)) return;
  for (const pkg of await readdir(docs)) {
    const dir = join(docs, pkg);
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      continue; // a symlink to another package's folder, or a file
    }
    for (const e of entries) if (e !== 'copyright') await rm(join(dir, e), { recursive: true, force: true });
  }
}

export function baseKey(spec: BaseSpec): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: 2, variant: BASE_VARIANT, pruned: PRUNED, ...spec }));
  return h.digest('hex');
}

/** The host's Debian codename (bookworm here), the default suite. */
export function hostSuite(): string {
  const text = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  const m = /^VERSION_CODENAME=("?)([a-z]+)\1$/m.exec(text);
  if (!m) throw new Error('cannot tell the Debian suite from /etc/os-release: pass --suite');
  return m[2]!;
}

export function hostArch(): string {
  try {
    return execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('dpkg --print-architecture failed: hivelab build needs a Debian host');
  }
}

/** The host's apt sources for the main archive (deb822 `debian.sources`, else sources.list). */
export function hostSources(): { path: string; text: string } {
  for (const path of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8');
      if (text.trim()) return { path, text };
    }
  }
  throw new Error('no apt sources on this host (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list)');
}

export interface BaseOptions {
  cacheDir: string;
  mtime: number;
  progress: (line: string) => void;
  /** A file holding `spec.sources`, handed to mmdebstrap as its mirror. */
  sourcesPath: string;
}

async function readCached(dir: string, key: string, spec: BaseSpec): Promise<BaseLayer | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(dir, 'base.json'), 'utf8')) as Omit<BaseLayer, 'path' | 'built' | 'spec' | 'key'>;
    const path = join(dir, 'layer.tar.gz');
    if (!existsSync(path)) return undefined;
    return { ...meta, path, key, spec, built: false };
  } catch {
    return undefined;
  }
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, progress: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const onData = (c: Buffer) => {
      const text = c.toString();
      tail = (tail + text).slice(-4000);
      for (const line of text.split('\n')) if (line.trim()) progress(`  ${cmd}: ${line.trim()}`);
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.once('error', (err) => reject(new Error(`cannot run ${cmd}: ${err.message}${cmd === 'mmdebstrap' ? ' (apt-get install -y mmdebstrap)' : ''}`)));
    p.once('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${cmd} failed (${signal ?? `exit ${code}`}):\n${tail.trim()}`))));
  });
}

/** The base layer for `spec`, from the cache or made now. */
export async function baseLayer(spec: BaseSpec, o: BaseOptions): Promise<BaseLayer> {
  const key = baseKey(spec);
  const dir = join(o.cacheDir, `base-${key.slice(0, 32)}`);
  const cached = await readCached(dir, key, spec);
  if (cached) {
    o.progress(`base: cached ${spec.suite}/${spec.arch} [${spec.packages.join(' ') || 'essential only'}] (${dir})`);
    return cached;
  }
  if (process.getuid?.() !== 0) {
    throw new Error(`the base root file system is not cached (${dir}) and making it needs root (mmdebstrap --mode=root); run once as root or pass a --base-cache that holds it`);
  }
  await mkdir(o.cacheDir, { recursive: true });
  const work = `${dir}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const rootfs = join(work, 'rootfs');
  o.progress(`base: mmdebstrap --variant=${BASE_VARIANT} ${spec.suite}/${spec.arch} with [${spec.packages.join(' ') || 'essential only'}] (about a minute; cached afterwards)`);
  const started = Date.now();
  try {
    await run(
      'mmdebstrap',
      [
        '--mode=root',
        `--variant=${BASE_VARIANT}`,
        `--architectures=${spec.arch}`,
        '--format=directory',
        ...(spec.packages.length ? [`--include=${spec.packages.join(',')}`] : []),
        spec.suite,
        rootfs,
        o.sourcesPath,
      ],
      { ...process.env, SOURCE_DATE_EPOCH: String(o.mtime), LC_ALL: 'C.UTF-8' },
      o.progress,
    );
    const mmdebstrapSeconds = (Date.now() - started) / 1000;
    await pruneDocs(rootfs);
    // A container runtime provides /dev and /proc itself; device nodes do not belong in a layer.
    for (const d of ['dev', 'proc', 'sys']) {
      const p = join(rootfs, d);
      if (existsSync(p)) for (const e of await readdir(p)) await rm(join(p, e), { recursive: true, force: true });
    }
    o.progress('base: packing the root file system as a layer');
    const layer = await makeLayer(rootfs, join(work, 'layer.tar.gz'), { mtime: o.mtime, ownerRoot: false, normaliseModes: false });
    await rm(rootfs, { recursive: true, force: true });
    const meta = { digest: layer.digest, diffId: layer.diffId, size: layer.size, mmdebstrapSeconds };
    await writeFile(join(work, 'base.json'), `${JSON.stringify({ ...meta, spec }, null, 2)}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(work, dir);
    return { ...meta, path: join(dir, 'layer.tar.gz'), key, spec, built: true };
  } catch (err) {
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}
