/**
 * The parts of the OCI image spec (and Docker's schema 2, which registries and `docker save` still
 * write) this platform reads: index/manifest list → manifest → config + layers.
 */

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
} as const;

export const INDEX_TYPES: string[] = [MEDIA.ociIndex, MEDIA.dockerList];
export const MANIFEST_TYPES: string[] = [MEDIA.ociManifest, MEDIA.dockerManifest];

export interface Platform {
  os?: string;
  architecture?: string;
  variant?: string;
}

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion?: number;
  mediaType?: string;
  manifests: Descriptor[];
}

export interface ImageManifest {
  schemaVersion?: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** The runtime half of the image config (`config` in OCI, also `config` in Docker's). */
export interface ImageRunConfig {
  User?: string;
  ExposedPorts?: Record<string, unknown>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
}

export interface ImageConfig {
  architecture?: string;
  os?: string;
  config?: ImageRunConfig;
  rootfs: { type: string; diff_ids: string[] };
}

/** The platform images are picked for: this host's (linux/amd64 here, linux/arm64 on aarch64). */
export function hostPlatform(): Required<Pick<Platform, 'os' | 'architecture'>> {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch === 'arm64' ? 'arm64' : process.arch;
  return { os: 'linux', architecture: arch };
}

/** From an index, the manifest for this host's platform; an error naming what the index offers. */
export function pickManifest(index: ImageIndex, what: string, want = hostPlatform()): Descriptor {
  const manifests = (index.manifests ?? []).filter((d) => !d.mediaType || MANIFEST_TYPES.includes(d.mediaType));
  // attestation manifests (buildkit's `unknown/unknown`) are not images
  const match = manifests.find((d) => d.platform?.os === want.os && d.platform?.architecture === want.architecture);
  if (match) return match;
  const withoutPlatform = manifests.filter((d) => d.platform === undefined);
  if (withoutPlatform.length === 1) return withoutPlatform[0]!;
  const offered = manifests.map((d) => (d.platform ? `${d.platform.os}/${d.platform.architecture}` : '(no platform)')).join(', ');
  throw new Error(`${what}: no image for ${want.os}/${want.architecture} (offered: ${offered || 'nothing'})`);
}

/** Checks the shape of a parsed config: the diff ids are what every layer is verified against. */
export function checkConfig(raw: unknown, what: string): ImageConfig {
  const c = raw as ImageConfig;
  if (!c || typeof c !== 'object' || !c.rootfs || !Array.isArray(c.rootfs.diff_ids)) throw new Error(`${what}: image config has no rootfs.diff_ids`);
  if (c.os !== undefined && c.os !== 'linux') throw new Error(`${what}: image is for ${c.os}, not linux`);
  return c;
}

export function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch {
    throw new Error(`${what} is not valid JSON`);
  }
}
