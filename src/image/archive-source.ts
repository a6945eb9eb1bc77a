import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ArchiveIndex } from './archive-index.js';
import { checkDigest, sha256 } from './digest.js';
import { ImageError, pairLayers, type ResolvedImage } from './image-source.js';
import { resolveLayout } from './layout-source.js';
import { checkConfig, parseJson } from './oci-types.js';
import { byteCap, describeBytes } from './unpack-limits.js';

/**
 * Image tarballs: an `oci-archive` (a tar of an OCI layout) or a `docker-archive` (`docker save`:
 * `manifest.json`, the config as `<hex>.json`, one `layer.tar` per layer, possibly gzip'd; Docker 25+
 * writes an OCI layout beside its manifest.json, read the same way). A gzip'd archive is first
 * decompressed into `tmpDir` (removed by `close`), stopping at `maxBytes`: the archive is a gzip
 * bomb vector of its own, before any layer is looked at.
 */

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function isGzip(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(2);
    await fh.read(b, 0, 2, 0);
    return b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** `kind`: what the reference said, or `auto` (a manifest.json means docker-archive). */
export async function resolveArchive(
  file: string,
  ref: string,
  tag: string | undefined,
  kind: 'oci-archive' | 'docker-archive' | 'auto',
  tmpDir: string,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<ResolvedImage> {
  let tarFile = file;
  let cleanup = async () => undefined as void;
  if (await isGzip(file)) {
    await mkdir(tmpDir, { recursive: true, mode: 0o700 });
    tarFile = join(tmpDir, `archive-${process.pid}-${Date.now()}.tar`);
    const made = tarFile;
    cleanup = async () => rm(made, { force: true });
    try {
      await pipeline(createReadStream(file), createGunzip(), byteCap(maxBytes, () => new ImageError(`${ref}: the gzip'd archive decompresses to more than ${describeBytes(maxBytes)} (the image size limit; --max-image-mb)`, 413)), createWriteStream(tarFile, { mode: 0o600 }));
    } catch (err) {
      await cleanup();
      if (err instanceof ImageError) throw err;
      throw new ImageError(`${ref}: cannot decompress: ${(err as Error).message}`);
    }
  }
  try {
    const index = await ArchiveIndex.build(tarFile);
    const docker = kind === 'docker-archive' || (kind === 'auto' && index.has('manifest.json'));
    const origin = { transport: docker ? ('docker-archive' as const) : ('oci-archive' as const), path: file, ...(tag !== undefined ? { tag } : {}) };
    if (!docker) {
      return { ...(await resolveLayout({ read: (rel) => index.read(rel), open: (rel) => index.open(rel) }, ref, tag, cleanup)), origin };
    }
    return { ...(await resolveDocker(index, ref, tag, cleanup)), origin };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function resolveDocker(index: ArchiveIndex, ref: string, tag: string | undefined, close: () => Promise<void>): Promise<ResolvedImage> {
  const bytes = await index.read('manifest.json');
  if (!bytes) throw new ImageError(`${ref}: not a docker-archive (no manifest.json)`);
  const entries = parseJson<DockerManifestEntry[]>(bytes, `${ref}: manifest.json`);
  if (!Array.isArray(entries) || entries.length === 0) throw new ImageError(`${ref}: manifest.json lists no image`);
  let entry: DockerManifestEntry | undefined;
  if (tag !== undefined) {
    entry = entries.find((e) => e.RepoTags?.some((t) => t === tag || t.endsWith(`:${tag}`) || t.split(':')[0] === tag));
    if (!entry) throw new ImageError(`${ref}: no image tagged "${tag}" (tags: ${entries.flatMap((e) => e.RepoTags ?? []).join(', ') || 'none'})`, 404);
  } else if (entries.length === 1) entry = entries[0];
  else throw new ImageError(`${ref}: the archive holds ${entries.length} images; name one with :TAG (${entries.flatMap((e) => e.RepoTags ?? []).join(', ')})`);
  if (!entry || typeof entry.Config !== 'string' || !Array.isArray(entry.Layers)) throw new ImageError(`${ref}: manifest.json entry has no Config or Layers`);
  const configBytes = await index.read(entry.Config);
  if (!configBytes) throw new ImageError(`${ref}: config ${entry.Config} is missing from the archive`);
  // the image id is the config's digest; docker names the file after it, so a renamed/edited config shows
  const id = sha256(configBytes);
  const named = /(?:^|\/)([a-f0-9]{64})(?:\.json)?$/.exec(entry.Config)?.[1];
  if (named && `sha256:${named}` !== id) throw new ImageError(`${ref}: config ${entry.Config} does not match its name (digest ${id})`);
  const config = checkConfig(parseJson(configBytes, `${ref}: config`), ref);
  const layers = pairLayers(config, entry.Layers, ref).map(([path, diffId]) => {
    if (!index.has(path)) throw new ImageError(`${ref}: layer ${path} is missing from the archive`);
    // Docker 25+ stores layers as OCI blobs: their name is their digest
    const blob = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(path)?.[1];
    return {
      ...(blob ? { digest: `sha256:${blob}` } : {}),
      diffId: checkDigest(diffId, `${ref}: diff id`),
      compression: 'auto' as const,
      open: () => index.open(path),
    };
  });
  return { ref, id, config, configBytes, layers, close };
}
