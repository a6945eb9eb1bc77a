import type { Readable } from 'node:stream';
import type { ImageOrigin } from '../manifest/schema.js';
import type { ImageConfig } from './oci-types.js';

/**
 * What every kind of image reference (OCI layout, oci-archive, docker-archive, registry) comes down
 * to: a verified config and layers that can be opened as byte streams. Each layer is verified while
 * it is unpacked: its blob digest (when the source has one) and its uncompressed digest (the
 * config's diff id) — so nothing a source says is trusted before the bytes match.
 */

export interface ImageLayer {
  /** The blob's digest as stored (compressed); undefined where the source has none (docker-archive). */
  digest?: string;
  /** The uncompressed tar's digest, from the config's rootfs.diff_ids. */
  diffId: string;
  /** Bytes of the stored blob, when known (progress). */
  size?: number;
  /** `gzip` | `none` | `auto` (look at the first bytes). */
  compression: 'gzip' | 'none' | 'auto';
  open(): Promise<Readable>;
}

export interface ResolvedImage {
  /** The reference as given, for display and records. */
  ref: string;
  /** The manifest's digest, where the image has a manifest (not docker-archive). */
  manifestDigest?: string;
  /** Where it was read from: the registry's repository, or the local layout or archive (set by `resolveImage`). */
  origin?: ImageOrigin;
  /** The image id: the config's digest (Docker's image id), what the caches are keyed by. */
  id: string;
  config: ImageConfig;
  configBytes: Buffer;
  layers: ImageLayer[];
  /** Releases what the source holds open (temporary files). */
  close(): Promise<void>;
}

/** A reference that cannot be read as an image; `status` is the HTTP status that fits. */
export class ImageError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'ImageError';
  }
}

/** Builds the layer list from a config's diff ids and the manifest's layer descriptors. */
export function pairLayers<T>(config: ImageConfig, layers: T[], what: string): [T, string][] {
  const ids = config.rootfs.diff_ids;
  if (ids.length !== layers.length) throw new ImageError(`${what}: the manifest lists ${layers.length} layers but the config ${ids.length} diff ids`);
  return layers.map((l, i) => [l, ids[i]!]);
}
