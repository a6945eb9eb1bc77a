import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { LAYER_MEDIA_TYPE, type Layer } from './layer.js';
import { writeUstar, type UstarEntry } from './ustar.js';

/**
 * The image's JSON documents (OCI image spec v1.1: config, manifest, index) and the archive that
 * carries them: an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) in a tar, which
 * is what `skopeo copy oci-archive:IMAGE.tar …` and `podman load` read. With `docker: true` the tar
 * also holds Docker's `manifest.json` (as `docker save` has written since Docker 25), so the same
 * file loads with `docker load` / skopeo's `docker-archive:`.
 */

export const MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
export const INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';

export interface ContainerConfig {
  User: string;
  Env: string[];
  Entrypoint: string[];
  Cmd?: string[];
  WorkingDir: string;
  ExposedPorts: Record<string, Record<string, never>>;
  Labels: Record<string, string>;
}

export interface ImageConfig {
  created: string;
  architecture: string;
  os: 'linux';
  config: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history: { created: string; created_by: string; comment?: string }[];
}

export interface Blob {
  digest: string;
  size: number;
  data: Buffer;
}

export function jsonBlob(value: unknown): Blob {
  const data = Buffer.from(JSON.stringify(value));
  return { digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size: data.length, data };
}

export function imageManifest(config: Blob, layers: Layer[], annotations: Record<string, string>): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA_TYPE,
    config: { mediaType: CONFIG_MEDIA_TYPE, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: LAYER_MEDIA_TYPE, digest: l.digest, size: l.size })),
    annotations,
  };
}

export interface ArchiveInput {
  config: Blob;
  manifest: Blob;
  layers: Layer[];
  /** The tag (`org.opencontainers.image.ref.name`, e.g. `latest`) and the full name for Docker's RepoTags. */
  tag: string;
  repoTag: string;
  arch: string;
  docker: boolean;
  mtime: number;
}

function blobName(digest: string): string {
  return `blobs/sha256/${digest.slice('sha256:'.length)}`;
}

/** Writes the archive to `outPath` (through a temporary name: a failed build leaves no half image). */
export async function writeImageArchive(outPath: string, a: ArchiveInput): Promise<void> {
  const index = {
    schemaVersion: 2,
    mediaType: INDEX_MEDIA_TYPE,
    manifests: [
      {
        mediaType: MANIFEST_MEDIA_TYPE,
        digest: a.manifest.digest,
        size: a.manifest.size,
        platform: { architecture: a.arch, os: 'linux' },
        annotations: { 'org.opencontainers.image.ref.name': a.tag, 'io.containerd.image.name': a.repoTag },
      },
    ],
  };
  const files = new Map<string, UstarEntry>();
  const add = (e: UstarEntry) => files.set(e.name, e);
  add({ name: 'oci-layout', kind: 'file', data: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })) });
  add({ name: 'index.json', kind: 'file', data: Buffer.from(JSON.stringify(index)) });
  add({ name: blobName(a.config.digest), kind: 'file', data: a.config.data });
  add({ name: blobName(a.manifest.digest), kind: 'file', data: a.manifest.data });
  for (const l of a.layers) add({ name: blobName(l.digest), kind: 'file', path: l.path, size: l.size });
  if (a.docker) {
    const docker = [{ Config: blobName(a.config.digest), RepoTags: [a.repoTag], Layers: a.layers.map((l) => blobName(l.digest)) }];
    add({ name: 'manifest.json', kind: 'file', data: Buffer.from(JSON.stringify(docker)) });
  }
  const entries: UstarEntry[] = [{ name: 'blobs/', kind: 'dir' }, { name: 'blobs/sha256/', kind: 'dir' }, ...[...files.keys()].sort().map((k) => files.get(k)!)];
  entries.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  const tmp = `${outPath}.partial-${process.pid}`;
  const out = createWriteStream(tmp);
  try {
    await writeUstar(out, entries, a.mtime);
    out.end();
    await finished(out);
    await rename(tmp, outPath);
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
}
