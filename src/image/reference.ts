import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { resolveArchive } from './archive-source.js';
import { ImageError, type ResolvedImage } from './image-source.js';
import { folderFiles, resolveLayout } from './layout-source.js';
import type { RegistryCredentials } from './registry-auth.js';
import { looksLikeRegistryRef, parseRegistryRef, type RegistryRef } from './registry-ref.js';
import { resolveRegistry } from './registry-source.js';

/**
 * What `hivelab deploy --image REF` accepts, in skopeo's transport words where they exist:
 *   oci:PATH[:TAG]             an OCI image layout folder
 *   oci-archive:PATH[:TAG]     a tar of one
 *   docker-archive:PATH[:TAG]  what `docker save` writes
 *   PATH                        a folder (layout) or a file (either archive, told apart by content)
 *   [http(s)://]HOST[:PORT]/NAME[:TAG|@DIGEST]   a registry (distribution API v2)
 * `docker://` is accepted as a prefix of a registry reference.
 */

export interface ResolveOptions {
  credentials?: RegistryCredentials;
  /** Plain HTTP for a registry reference without a scheme. */
  insecure?: boolean;
  /** Where a gzip'd archive is decompressed. */
  tmpDir: string;
  /** Bytes a gzip'd archive may decompress to in tmpDir (default: unbounded); past it, HTTP 413. */
  maxArchiveBytes?: number;
}

/** Splits `PATH[:TAG]` where PATH may itself hold colons: the tag is taken only if PATH then exists. */
async function pathAndTag(spec: string): Promise<{ path: string; tag?: string }> {
  if (await stat(spec).catch(() => null)) return { path: spec };
  const i = spec.lastIndexOf(':');
  if (i > 0 && !spec.slice(i + 1).includes('/')) return { path: spec.slice(0, i), tag: spec.slice(i + 1) };
  return { path: spec };
}

/** The image of `ref`, with where it was read from (`origin`: what `hivelab export knative` names it by). */
export async function resolveImage(ref: string, opts: ResolveOptions): Promise<ResolvedImage> {
  const transport = /^(oci|oci-archive|docker-archive|docker):(.*)$/.exec(ref);
  const fromRegistry = async (r: RegistryRef): Promise<ResolvedImage> => ({
    ...(await resolveRegistry(r, opts.credentials)),
    origin: { transport: 'registry', repository: `${r.host}/${r.name}` },
  });
  if (transport?.[1] === 'docker') return fromRegistry(parseRegistryRef(transport[2]!.replace(/^\/\//, ''), opts.insecure));
  if (!transport && looksLikeRegistryRef(ref) && !(await stat(ref).catch(() => null))) {
    return fromRegistry(parseRegistryRef(ref, opts.insecure));
  }
  const { path, tag } = await pathAndTag(transport ? transport[2]! : ref);
  const abs = resolve(path);
  const st = await stat(abs).catch(() => null);
  if (!st) throw new ImageError(`${ref}: no such file or folder ${abs} (and not a registry reference HOST[:PORT]/NAME[:TAG])`, 404);
  const kind = transport?.[1];
  if (st.isDirectory()) {
    if (kind && kind !== 'oci') throw new ImageError(`${ref}: ${abs} is a folder, not a ${kind} tarball`);
    return { ...(await resolveLayout(folderFiles(abs), ref, tag)), origin: { transport: 'oci', path: abs, ...(tag !== undefined ? { tag } : {}) } };
  }
  if (kind === 'oci') throw new ImageError(`${ref}: ${abs} is a file; oci: names a layout folder (use oci-archive: for a tarball)`);
  return resolveArchive(abs, ref, tag, (kind as 'oci-archive' | 'docker-archive' | undefined) ?? 'auto', opts.tmpDir, opts.maxArchiveBytes);
}
