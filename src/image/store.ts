import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
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

/**
 * The image store under the state folder (`<state>/images`, root's, mode 0700):
 *   layers/sha256/<diffid hex>/     one unpacked layer, content-addressed by its uncompressed digest
 *                                   and shared by every image that has it
 *   images/sha256/<id hex>.json     what was pulled: the reference, manifest digest, origin, config, diff ids
 *   rootfs/<id hex>-<uid>/          an image's assembled root for one function uid (ownership is
 *                                   mapped to that uid), shared by that function's instances
 *   tmp/                            work in progress; everything is made beside its place and renamed in
 * Nothing in a cache is ever modified after its rename, so concurrent pulls and workers only race to
 * rename, and the loser's copy is dropped.
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

export type PullEvent =
  | { type: 'resolved'; ref: string; id: string; layers: number; totalBytes?: number }
  | { type: 'layer'; index: number; diffId: string; state: 'cached' | 'pulling' | 'done'; bytes?: number; size?: number; stats?: ExtractStats }
  | { type: 'bytes'; index: number; bytes: number; size?: number };

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null)) !== null;
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
async function layerStreams(layer: ImageLayer, onBytes: (n: number) => void): Promise<{ out: Readable; blob: HashTap; diff: HashTap; done: Promise<void> }> {
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
  const streams = [source, blob, gzip ? createGunzip() : new PassThrough(), diff] as const;
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
  async pull(ref: string, opts: Omit<ResolveOptions, 'tmpDir'>, onEvent: (e: PullEvent) => void = () => undefined): Promise<ImageRecord> {
    await this.ensureDirs();
    const image = await resolveImage(ref, { ...opts, tmpDir: this.tmpDir });
    try {
      const sizes = image.layers.map((l) => l.size);
      onEvent({
        type: 'resolved',
        ref,
        id: image.id,
        layers: image.layers.length,
        ...(sizes.every((s) => s !== undefined) ? { totalBytes: sizes.reduce((a, b) => a! + b!, 0) } : {}),
      });
      for (const [i, layer] of image.layers.entries()) await this.unpack(layer, i, image, onEvent);
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
    } finally {
      await image.close();
    }
  }

  private async unpack(layer: ImageLayer, index: number, image: ResolvedImage, onEvent: (e: PullEvent) => void): Promise<void> {
    const final = this.layerDir(layer.diffId);
    if (await exists(final)) {
      onEvent({ type: 'layer', index, diffId: layer.diffId, state: 'cached' });
      return;
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
      });
      let stats: ExtractStats;
      try {
        stats = await extractLayer(readTar(out as AsyncIterable<Buffer>), tmp);
      } finally {
        out.destroy();
      }
      await done;
      const what = `${image.ref}: layer ${index + 1}`;
      if (layer.digest && blob.digest() !== layer.digest) throw new DigestMismatchError(what, layer.digest, blob.digest());
      if (diff.digest() !== layer.diffId) throw new DigestMismatchError(`${what} (uncompressed)`, layer.diffId, diff.digest());
      await renameInto(tmp, final);
      onEvent({ type: 'layer', index, diffId: layer.diffId, state: 'done', bytes: blob.bytes, stats });
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
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
  rootfs(id: string, uid: number, workingDir = '/'): Promise<string> {
    const final = this.rootfsDir(id, uid);
    let p = this.assembling.get(final);
    if (!p) {
      p = this.assemble(id, uid, workingDir, final);
      this.assembling.set(final, p);
      p.catch(() => this.assembling.delete(final));
    }
    return p;
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
