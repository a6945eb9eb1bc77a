import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { checkDigest, hexOf } from './digest.js';
import { ImageError, type ResolvedImage } from './image-source.js';
import { resolveManifest, readSmallBlob, type BlobReader } from './manifest-walk.js';
import { parseJson, type Descriptor, type ImageIndex } from './oci-types.js';

/**
 * An OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`), as `skopeo copy
 * oci:DIR` or `podman save --format oci-dir`… write it; also the inside of an oci-archive.
 * `files` abstracts where the layout's files are (a folder, or entries of a tar).
 */

export interface LayoutFiles {
  /** A file of the layout by its relative path; undefined when absent. */
  read(rel: string): Promise<Buffer | undefined>;
  open(rel: string): Promise<Readable>;
}

export const REF_NAME = 'org.opencontainers.image.ref.name';

/** Picks the index entry for `tag` (its ref.name annotation), or the only one. */
export function pickTagged(index: ImageIndex, tag: string | undefined, what: string): Descriptor {
  const entries = index.manifests ?? [];
  if (tag !== undefined) {
    const d = entries.find((e) => e.annotations?.[REF_NAME] === tag);
    if (!d) {
      const tags = entries.map((e) => e.annotations?.[REF_NAME]).filter(Boolean);
      throw new ImageError(`${what}: no image tagged "${tag}" (tags: ${tags.join(', ') || 'none'})`, 404);
    }
    return d;
  }
  if (entries.length === 1) return entries[0]!;
  const tags = entries.map((e) => e.annotations?.[REF_NAME] ?? e.digest);
  throw new ImageError(`${what}: the layout holds ${entries.length} images; name one with :TAG (${tags.join(', ')})`);
}

export async function resolveLayout(files: LayoutFiles, ref: string, tag?: string, close?: () => Promise<void>): Promise<ResolvedImage> {
  const marker = await files.read('oci-layout');
  if (!marker) throw new ImageError(`${ref}: not an OCI image layout (no oci-layout file)`);
  const layout = parseJson<{ imageLayoutVersion?: string }>(marker, `${ref}: oci-layout`);
  if (!layout.imageLayoutVersion?.startsWith('1.')) throw new ImageError(`${ref}: unsupported image layout version ${JSON.stringify(layout.imageLayoutVersion)}`);
  const indexBytes = await files.read('index.json');
  if (!indexBytes) throw new ImageError(`${ref}: OCI layout without index.json`);
  const top = pickTagged(parseJson<ImageIndex>(indexBytes, `${ref}: index.json`), tag, ref);
  const blobPath = (d: string) => join('blobs', 'sha256', hexOf(d));
  const blobs: BlobReader = {
    async bytes(digest, what) {
      return readSmallBlob(await files.open(blobPath(checkDigest(digest, what))), digest, what);
    },
    open: (digest) => files.open(blobPath(digest)),
  };
  const topDigest = checkDigest(top.digest, `${ref}: index entry`);
  const bytes = await blobs.bytes(topDigest, `${ref}: manifest ${topDigest}`);
  return resolveManifest(blobs, bytes, topDigest, ref, close, top.mediaType);
}

/** A layout folder on disk. */
export function folderFiles(dir: string): LayoutFiles {
  return {
    async read(rel) {
      try {
        return await readFile(join(dir, rel));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async open(rel) {
      const p = join(dir, rel);
      const st = await stat(p).catch(() => null);
      if (!st?.isFile()) throw new ImageError(`${dir}: blob ${rel} is missing`);
      return createReadStream(p);
    },
  };
}
