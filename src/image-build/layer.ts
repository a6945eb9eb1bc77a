import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readdir, rename, rm } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

/**
 * One image layer: a folder as a gzip'd tar, with the two digests an image needs (the OCI image
 * spec: `diff_id` is the sha256 of the uncompressed tar, the manifest names the compressed blob).
 *
 * Deterministic, so the same folder gives the same digests: GNU tar with entries sorted by name, one
 * fixed mtime, numeric owners, no atime/ctime or extended attributes, names relative to the root
 * (`usr/bin/node`, no leading `./`), and Node's gzip (its header carries no time and no name).
 * GNU tar rather than a writer of our own because a Debian root has hard links, device-less but
 * odd modes and names past ustar's 100 bytes, which GNU tar has handled for decades.
 */

export const LAYER_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface Layer {
  /** Where the compressed blob is. */
  path: string;
  /** `sha256:<hex>` of the compressed blob (the manifest's layer digest). */
  digest: string;
  /** `sha256:<hex>` of the uncompressed tar (the config's rootfs.diff_ids). */
  diffId: string;
  /** Bytes of the compressed blob. */
  size: number;
}

export interface LayerOptions {
  /** Every entry's mtime, seconds since the epoch. */
  mtime: number;
  /** Every entry owned by root:root (the layers made of the build's own files). */
  ownerRoot: boolean;
  /** Normalise permissions (dirs 755, files 644 or 755) so a checkout's umask does not change the digest. */
  normaliseModes: boolean;
}

function hashing(into: { hex: string; bytes: number }): Transform {
  const h = createHash('sha256');
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      h.update(chunk);
      into.bytes += chunk.length;
      done(null, chunk);
    },
    flush(done) {
      into.hex = h.digest('hex');
      done();
    },
  });
}

/** Writes `root`'s contents as a layer to `outPath` (via a temporary name, so a partial blob never appears). */
export async function makeLayer(root: string, outPath: string, o: LayerOptions): Promise<Layer> {
  const names = (await readdir(root)).sort();
  if (names.length === 0) throw new Error(`layer folder ${root} is empty`);
  const args = [
    '--create',
    '--file=-',
    '--format=gnu',
    '--sort=name',
    `--mtime=@${o.mtime}`,
    '--numeric-owner',
    '--no-acls',
    '--no-xattrs',
    '--no-selinux',
    ...(o.ownerRoot ? ['--owner=0', '--group=0'] : []),
    ...(o.normaliseModes ? ['--mode=u+rw,go-w,a+rX'] : []),
    `--directory=${root}`,
    '--',
    ...names,
  ];
  const tar = spawn('tar', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  tar.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise<number>((resolve, reject) => {
    tar.once('error', (err) => reject(new Error(`cannot run GNU tar: ${err.message}`)));
    tar.once('close', (code) => resolve(code ?? 1));
  });
  const raw = { hex: '', bytes: 0 };
  const gz = { hex: '', bytes: 0 };
  const tmp = `${outPath}.partial-${process.pid}`;
  try {
    await pipeline(tar.stdout, hashing(raw), createGzip({ level: 6 }), hashing(gz), createWriteStream(tmp));
    const code = await exited;
    if (code !== 0) throw new Error(`tar of ${root} failed (exit ${code}): ${stderr.trim()}`);
    await rename(tmp, outPath);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return { path: outPath, digest: `sha256:${gz.hex}`, diffId: `sha256:${raw.hex}`, size: gz.bytes };
}
