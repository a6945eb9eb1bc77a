import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PassThrough, pipeline, Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { writeFileAtomic } from '../core/atomic-write.js';
import type { ImageOrigin } from '../manifest/schema.js';
import { prepareRootfs } from '../sandbox/root.js';
import { DigestMismatchError, HashTap, checkDigest, hexOf } from './digest.js';
import { HostileLayerError } from './entry-name.js';
import { ImageError, type ImageLayer, type ResolvedImage } from './image-source.js';
import { extractLayer, type ExtractStats } from './layer-extract.js';
import type { ImageConfig } from './oci-types.js';
import { resolveImage, type ResolveOptions } from './reference.js';
import { applyLayer, ensureFolder } from './rootfs-assemble.js';
import { readTar } from './tar-stream.js';
import { TarFormatError } from './tar-header.js';
import { DEFAULT_UNPACK_LIMITS, UnpackBudget, byteCap, UnpackLimitError, type UnpackLimits } from './unpack-limits.js';

/**
 * The image store under the state folder (`<state>/images`, root's, mode 0700):
 *   layers/sha256/<diffid hex>/     one unpacked layer, content-addressed by its uncompressed digest
 *                                   and shared by every image that has it
 *   layers/sha256/<diffid hex>.json what it unpacked to (bytes, entries): a cached layer counts
 *                                   against the next image's limits without being walked
 *   images/sha256/<id hex>.json     what was pulled: the reference, manifest digest, origin, config, diff ids
 *   rootfs/<id hex>-<uid>/          an image's assembled root for one function uid (ownership is
 *                                   mapped to that uid), shared by that function's instances
 *   tmp/                            work in progress; everything is made beside its place and renamed in
 * Nothing in a cache is ever modified after its rename, so concurrent pulls and workers only race to
 * rename, and the loser's copy is dropped. Things leave only whole: a refused pull's own layers,
 * and an evicted image's roots and unshared layers (`evict`), renamed into tmp/ then deleted.
 */

export interface ImageRecord {
  id: string;
  ref: string;
  manifestDigest?: string;
  /** Where this pull read it from (a record is rewritten by each pull of its image). */
  origin?: ImageOrigin;
  diffIds: string[];
  config: ImageConfig;
  pulledAt: string;
}

export interface PullOptions extends Omit<ResolveOptions, 'tmpDir' | 'maxArchiveBytes'> {
  /** What the image may unpack (default: 8 GiB, 1,000,000 entries; unpack-limits.ts). */
  limits?: UnpackLimits;
}

/** What a layer unpacked to, kept beside it. */
interface LayerSize {
  bytes: number;
  entries: number;
}

export type PullEvent =
  | { type: 'resolved'; ref: string; id: string; layers: number; totalBytes?: number }
  | { type: 'layer'; index: number; diffId: string; state: 'cached' | 'pulling' | 'done'; bytes?: number; size?: number; stats?: ExtractStats }
  | { type: 'bytes'; index: number; bytes: number; size?: number };

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null)) !== null;
}

/** Bytes of regular files and entries (the folder itself too, as its tar has it) under `dir`. */
async function countTree(dir: string): Promise<LayerSize> {
  const size: LayerSize = { bytes: 0, entries: 1 };
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      size.entries++;
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.isFile()) size.bytes += (await lstat(join(d, e.name))).size;
    }
  };
  await walk(dir);
  return size;
}

async function renameInto(tmp: string, final: string): Promise<void> {
  try {
    await rename(tmp, final);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    await rm(tmp, { recursive: true, force: true });
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await exists(final))) return; // another pull won
    throw err;
  }
}

/** The layer's bytes decompressed as its media type says (or as its first bytes say). */
async function layerStreams(layer: ImageLayer, onBytes: (n: number) => void, budget: UnpackBudget): Promise<{ out: Readable; blob: HashTap; diff: HashTap; done: Promise<void> }> {
  let gzip = layer.compression === 'gzip';
  if (layer.compression === 'auto') {
    const peek = await layer.open();
    const first = (await peek[Symbol.asyncIterator]().next()).value as Buffer | undefined;
    peek.destroy();
    gzip = first !== undefined && first[0] === 0x1f && first[1] === 0x8b;
  }
  const blob = new HashTap(onBytes);
  const diff = new HashTap();
  const source = await layer.open();
  let failure: Error | undefined;
  const cap = byteCap(budget.streamAllowance(), () => new UnpackLimitError('bytes', budget.limits.maxBytes));
  const streams = [source, blob, gzip ? createGunzip() : new PassThrough(), cap, diff] as const;
  const out = pipeline(...streams, (err) => {
    if (err) failure = err;
  }) as unknown as Readable;
  const done = finished(blob).then(() => {
    if (failure) throw failure;
  });
  done.catch(() => undefined); // awaited only on success; an abandoned pull's stream errors are its own error's echo
  return { out, blob, diff, done };
}

/** Where the store under `imagesDir` records image `id` (its presence: the image was pulled there). */
export function imageRecordFile(imagesDir: string, id: string): string {
  return join(imagesDir, 'images', 'sha256', `${hexOf(id)}.json`);
}

export class ImageStore {
  private readonly assembling = new Map<string, Promise<string>>();

  constructor(readonly dir: string) {}

  private layerDir(diffId: string): string {
    return join(this.dir, 'layers', 'sha256', hexOf(diffId));
  }

  private recordFile(id: string): string {
    return imageRecordFile(this.dir, id);
  }

  rootfsDir(id: string, uid: number): string {
    return join(this.dir, 'rootfs', `${hexOf(id)}-${uid}`);
  }

  get tmpDir(): string {
    return join(this.dir, 'tmp');
  }

  private async ensureDirs(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    for (const d of ['layers/sha256', 'images/sha256', 'rootfs', 'tmp']) await mkdir(join(this.dir, d), { recursive: true, mode: 0o700 });
  }

  /** Resolves a reference, unpacks its layers into the cache (each verified) and records the image. */
  async pull(ref: string, opts: PullOptions, onEvent: (e: PullEvent) => void = () => undefined): Promise<ImageRecord> {
    await this.ensureDirs();
    const { limits = DEFAULT_UNPACK_LIMITS, ...resolveOpts } = opts;
    const image = await resolveImage(ref, { ...resolveOpts, tmpDir: this.tmpDir, maxArchiveBytes: limits.maxBytes });
    const budget = new UnpackBudget(limits);
    const made: string[] = [];
    try {
      const sizes = image.layers.map((l) => l.size);
      onEvent({
        type: 'resolved',
        ref,
        id: image.id,
        layers: image.layers.length,
        ...(sizes.every((s) => s !== undefined) ? { totalBytes: sizes.reduce((a, b) => a! + b!, 0) } : {}),
      });
      for (const [i, layer] of image.layers.entries()) {
        if (await this.unpack(layer, i, image, budget, onEvent)) made.push(layer.diffId);
      }
      const record: ImageRecord = {
        id: image.id,
        ref,
        ...(image.manifestDigest ? { manifestDigest: image.manifestDigest } : {}),
        ...(image.origin ? { origin: image.origin } : {}),
        diffIds: image.layers.map((l) => l.diffId),
        config: image.config,
        pulledAt: new Date().toISOString(),
      };
      await writeFileAtomic(this.recordFile(image.id), JSON.stringify(record, null, 2) + '\n');
      return record;
    } catch (err) {
      // a refused image leaves nothing behind: the layers this pull made that no image names go too
      await this.dropLayers(made).catch(() => undefined);
      throw err;
    } finally {
      await image.close();
    }
  }

  private layerSizeFile(diffId: string): string {
    return `${this.layerDir(diffId)}.json`;
  }

  /** What a cached layer unpacked to: its size file, else (a store older than the file) counted. */
  private async layerSize(diffId: string): Promise<LayerSize> {
    try {
      const s = JSON.parse(await readFile(this.layerSizeFile(diffId), 'utf8')) as LayerSize;
      if (Number.isFinite(s.bytes) && Number.isFinite(s.entries)) return s;
    } catch {
      // counted below
    }
    return countTree(this.layerDir(diffId));
  }

  /** The diff ids every recorded image names. */
  async layersInUse(): Promise<Set<string>> {
    const used = new Set<string>();
    for (const rec of await this.records()) for (const d of rec.diffIds) used.add(d);
    return used;
  }

  /** Every image record of the store. */
  async records(): Promise<ImageRecord[]> {
    const dir = join(this.dir, 'images', 'sha256');
    const names = await readdir(dir).catch(() => [] as string[]);
    const out: ImageRecord[] = [];
    for (const n of names.filter((x) => /^[0-9a-f]{64}\.json$/.test(x))) {
      const rec = await this.record(`sha256:${n.slice(0, 64)}`).catch(() => undefined);
      if (rec) out.push(rec);
    }
    return out;
  }

  /** Removes the given layers (and their size files) unless an image record names them. */
  async dropLayers(diffIds: string[]): Promise<string[]> {
    if (diffIds.length === 0) return [];
    const used = await this.layersInUse();
    const dropped: string[] = [];
    for (const d of diffIds) {
      if (used.has(d)) continue;
      // renamed aside first: a half-deleted folder is never seen under the layer's name
      const aside = join(this.tmpDir, `drop-${hexOf(d).slice(0, 16)}-${randomBytes(4).toString('hex')}`);
      const moved = await rename(this.layerDir(d), aside).then(() => true, () => false);
      await rm(this.layerSizeFile(d), { force: true });
      if (moved) {
        await rm(aside, { recursive: true, force: true });
        dropped.push(d);
      }
    }
    return dropped;
  }

  /** Unpacks one layer unless cached; true when this call made it. */
  private async unpack(layer: ImageLayer, index: number, image: ResolvedImage, budget: UnpackBudget, onEvent: (e: PullEvent) => void): Promise<boolean> {
    const final = this.layerDir(layer.diffId);
    const what = `${image.ref}: layer ${index + 1} (${layer.diffId.slice(0, 19)}…)`;
    if (await exists(final)) {
      const size = await this.layerSize(layer.diffId);
      try {
        budget.chargeEntries(size.entries);
        budget.chargeBytes(size.bytes);
      } catch (err) {
        throw new ImageError(`${what} refused: ${(err as Error).message}`, 413);
      }
      onEvent({ type: 'layer', index, diffId: layer.diffId, state: 'cached' });
      return false;
    }
    onEvent({ type: 'layer', index, diffId: layer.diffId, state: 'pulling', ...(layer.size !== undefined ? { size: layer.size } : {}) });
    const tmp = join(this.tmpDir, `layer-${hexOf(layer.diffId).slice(0, 16)}-${randomBytes(4).toString('hex')}`);
    await mkdir(tmp, { mode: 0o700 });
    let seen = 0;
    let reported = 0;
    try {
      const { out, blob, diff, done } = await layerStreams(layer, (n) => {
        seen += n;
        if (seen - reported >= 4 * 1024 * 1024) {
          reported = seen;
          onEvent({ type: 'bytes', index, bytes: seen, ...(layer.size !== undefined ? { size: layer.size } : {}) });
        }
      }, budget);
      let stats: ExtractStats;
      try {
        stats = await extractLayer(readTar(out as AsyncIterable<Buffer>), tmp, budget);
      } finally {
        out.destroy();
      }
      await done;
      const where = `${image.ref}: layer ${index + 1}`;
      if (layer.digest && blob.digest() !== layer.digest) throw new DigestMismatchError(where, layer.digest, blob.digest());
      if (diff.digest() !== layer.diffId) throw new DigestMismatchError(`${where} (uncompressed)`, layer.diffId, diff.digest());
      // the size file first: a layer folder is never there without it (but for an older store's)
      await writeFileAtomic(this.layerSizeFile(layer.diffId), JSON.stringify({ bytes: stats.bytes, entries: stats.entries }) + '\n');
      await renameInto(tmp, final);
      onEvent({ type: 'layer', index, diffId: layer.diffId, state: 'done', bytes: blob.bytes, stats });
      return true;
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      if (!(await exists(final))) await rm(this.layerSizeFile(layer.diffId), { force: true });
      if (err instanceof UnpackLimitError) {
        throw new ImageError(`${what} refused: ${err.message}`, 413);
      }
      if (err instanceof HostileLayerError || err instanceof TarFormatError) throw new ImageError(`${image.ref}: layer ${index + 1} refused: ${err.message}`);
      if (err instanceof DigestMismatchError) throw new ImageError(err.message, 422);
      if (err instanceof ImageError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new ImageError(`${image.ref}: layer ${index + 1} could not be unpacked: ${code === 'Z_DATA_ERROR' ? 'not valid gzip data' : (err as Error).message}`, code ? 422 : 500);
    }
  }

  /**
   * A small regular file of the image (e.g. `etc/passwd`) as its layers show it, top layer first,
   * honouring whiteouts; undefined when absent, a symlink, or hidden.
   */
  async readFile(rec: ImageRecord, rel: string, maxBytes = 1024 * 1024): Promise<Buffer | undefined> {
    const parts = rel.split('/').filter(Boolean);
    const there = (p: string) => lstat(p).catch(() => null);
    for (const diffId of [...rec.diffIds].reverse()) {
      let dir = this.layerDir(diffId);
      for (const [i, p] of parts.entries()) {
        if (await there(join(dir, `.wh.${p}`))) return undefined; // deleted by this layer
        const st = await there(join(dir, p));
        if (!st) {
          if (await there(join(dir, '.wh..wh..opq'))) return undefined; // lower layers hidden here
          break; // this layer does not touch it: look below
        }
        if (i === parts.length - 1) return st.isFile() && st.size <= maxBytes ? readFile(join(dir, p)) : undefined;
        if (!st.isDirectory()) return undefined; // a link or file hides what lies below
        dir = join(dir, p);
      }
    }
    return undefined;
  }

  async record(id: string): Promise<ImageRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.recordFile(checkDigest(id, 'image id')), 'utf8')) as ImageRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * The image's root for one function uid: its layers applied in order, the sandbox's mountpoints
   * made, the WorkingDir created. Assembled once (then shared by that function's instances).
   */
  async rootfs(id: string, uid: number, workingDir = '/'): Promise<string> {
    const final = this.rootfsDir(id, uid);
    for (;;) {
      const p = this.assembling.get(final);
      if (!p) {
        const made = this.assemble(id, uid, workingDir, final);
        this.assembling.set(final, made);
        made.catch(() => this.assembling.get(final) === made && this.assembling.delete(final));
        return made;
      }
      const root = await p;
      if (await exists(root)) return root;
      // evicted since it was assembled (evict below): assembled again
      if (this.assembling.get(final) === p) this.assembling.delete(final);
    }
  }

  /** The assembled roots of image `id`, one per function uid. */
  async rootsOf(id: string): Promise<string[]> {
    const prefix = `${hexOf(checkDigest(id, 'image id'))}-`;
    const names = await readdir(join(this.dir, 'rootfs')).catch(() => [] as string[]);
    return names.filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length))).map((n) => join(this.dir, 'rootfs', n));
  }

  /**
   * Removes image `id` from the store: its record, its assembled roots (`beforeRemoveRoot` is called
   * with each first: a root may have a restore bind that must be unmounted before it goes) and its
   * layers that no other recorded image names. Each folder is renamed into tmp/ before it is
   * deleted, so no half-deleted root or layer is ever seen under its name.
   */
  async evict(id: string, opts: { beforeRemoveRoot?: (root: string) => Promise<void> } = {}): Promise<{ roots: string[]; layers: string[] }> {
    const rec = await this.record(id);
    await rm(this.recordFile(id), { force: true });
    const roots: string[] = [];
    for (const root of await this.rootsOf(id)) {
      await opts.beforeRemoveRoot?.(root);
      this.assembling.delete(root);
      const aside = join(this.tmpDir, `evict-${basename(root)}-${randomBytes(4).toString('hex')}`);
      if (await rename(root, aside).then(() => true, () => false)) {
        await rm(aside, { recursive: true, force: true });
        roots.push(root);
      }
    }
    const layers = rec ? await this.dropLayers(rec.diffIds) : [];
    return { roots, layers };
  }

  private async assemble(id: string, uid: number, workingDir: string, final: string): Promise<string> {
    if (await exists(final)) return final;
    const rec = await this.record(id);
    if (!rec) throw new ImageError(`image ${id} is not in the image store ${this.dir} (deploy it again with hivelab deploy --image)`, 404);
    await this.ensureDirs();
    const tmp = join(this.tmpDir, `rootfs-${hexOf(id).slice(0, 16)}-${uid}-${randomBytes(4).toString('hex')}`);
    await mkdir(tmp, { mode: 0o755 });
    try {
      for (const diffId of rec.diffIds) {
        const layer = this.layerDir(diffId);
        if (!(await exists(layer))) throw new ImageError(`image ${id}: layer ${diffId} is missing from the cache (deploy the image again)`, 404);
        await applyLayer(layer, tmp, { uid, gid: uid });
      }
      await chmod(tmp, 0o755);
      prepareRootfs(tmp);
      await ensureFolder(tmp, workingDir);
      await renameInto(tmp, final);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    return final;
  }
}
