import type { Readable } from 'node:stream';
import { checkDigest, verifyBytes } from './digest.js';
import { ImageError, pairLayers, type ImageLayer, type ResolvedImage } from './image-source.js';
import { INDEX_TYPES, MEDIA, checkConfig, parseJson, pickManifest, type Descriptor, type ImageIndex, type ImageManifest } from './oci-types.js';

/**
 * From a manifest or index (whose bytes were verified against their digest) down to the config and
 * layers, with blobs read from wherever the source keeps them: a layout's `blobs/sha256/`, entries
 * of an archive, or a registry.
 */

export interface BlobReader {
  /** A small blob (manifest, index, config) as bytes, verified against `digest`. */
  bytes(digest: string, what: string): Promise<Buffer>;
  /** A layer blob as a stream (verified while it is unpacked). */
  open(digest: string): Promise<Readable>;
}

/** Small JSON blobs larger than this are refused (a manifest or config is a few KiB). */
export const MAX_JSON_BLOB = 4 * 1024 * 1024;

function compressionOf(mediaType: string | undefined, what: string): ImageLayer['compression'] {
  switch (mediaType) {
    case MEDIA.ociLayerGzip:
    case MEDIA.dockerLayerGzip:
      return 'gzip';
    case MEDIA.ociLayer:
    case MEDIA.dockerLayer:
      return 'none';
    case MEDIA.ociLayerZstd:
      throw new ImageError(`${what}: zstd-compressed layers are not supported (Node 20 has no zstd); push the image with gzip layers`);
    case undefined:
      return 'auto';
    default:
      if (/nondistributable/.test(mediaType)) return /gzip/.test(mediaType) ? 'gzip' : 'auto';
      throw new ImageError(`${what}: layer media type ${mediaType} is not an image layer`);
  }
}

/** Walks from verified manifest-or-index bytes to a resolved image. */
export async function resolveManifest(
  blobs: BlobReader,
  bytes: Buffer,
  digest: string,
  ref: string,
  close: () => Promise<void> = async () => undefined,
  mediaTypeHint?: string,
  depth = 0,
): Promise<ResolvedImage> {
  const doc = parseJson<(ImageIndex | ImageManifest) & { mediaType?: string }>(bytes, `${ref}: manifest ${digest}`);
  const mediaType = doc.mediaType ?? mediaTypeHint;
  if ((mediaType && INDEX_TYPES.includes(mediaType)) || Array.isArray((doc as ImageIndex).manifests)) {
    if (depth > 2) throw new ImageError(`${ref}: indexes nested too deep`);
    const chosen: Descriptor = pickManifest(doc as ImageIndex, ref);
    checkDigest(chosen.digest, `${ref}: manifest descriptor`);
    const inner = await blobs.bytes(chosen.digest, `${ref}: manifest ${chosen.digest}`);
    return resolveManifest(blobs, inner, chosen.digest, ref, close, chosen.mediaType, depth + 1);
  }
  const m = doc as ImageManifest;
  if (!m.config || !Array.isArray(m.layers)) throw new ImageError(`${ref}: manifest ${digest} has no config or layers (media type ${mediaType ?? 'unknown'})`);
  const configDigest = checkDigest(m.config.digest, `${ref}: config descriptor`);
  const configBytes = await blobs.bytes(configDigest, `${ref}: config ${configDigest}`);
  const config = checkConfig(parseJson(configBytes, `${ref}: config`), ref);
  const layers = pairLayers(config, m.layers, ref).map(([d, diffId]): ImageLayer => {
    const layerDigest = checkDigest(d.digest, `${ref}: layer descriptor`);
    return {
      digest: layerDigest,
      diffId: checkDigest(diffId, `${ref}: diff id`),
      ...(typeof d.size === 'number' ? { size: d.size } : {}),
      compression: compressionOf(d.mediaType, ref),
      open: () => blobs.open(layerDigest),
    };
  });
  return { ref, manifestDigest: digest, id: configDigest, config, configBytes, layers, close };
}

/** Reads a small blob fully and checks its digest and size. */
export async function readSmallBlob(stream: Readable, digest: string, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of stream as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_JSON_BLOB) {
      stream.destroy();
      throw new ImageError(`${what} is larger than ${MAX_JSON_BLOB} bytes`);
    }
    parts.push(c);
  }
  return verifyBytes(Buffer.concat(parts), digest, what);
}
