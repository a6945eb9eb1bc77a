import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';

/**
 * A minimal ustar writer for the outer archive of an image (an OCI layout in a tar): directories and
 * regular files with short names, owned by root, all with one fixed mtime, so the same layout gives
 * the same archive bytes. The layers themselves are written by GNU tar (layer.ts), which knows
 * hard links, devices and long names; here every name is at most `blobs/sha256/<64 hex>`.
 */

export type UstarEntry =
  | { name: string; kind: 'dir' }
  | { name: string; kind: 'file'; data: Buffer }
  | { name: string; kind: 'file'; path: string; size: number };

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width includes the terminating NUL
  const s = value.toString(8);
  if (s.length > width - 1) throw new Error(`tar header field overflow: ${value} does not fit ${width - 1} octal digits`);
  return s.padStart(width - 1, '0') + '\0';
}

export function ustarHeader(name: string, kind: 'dir' | 'file', size: number, mtime: number): Buffer {
  const full = kind === 'dir' && !name.endsWith('/') ? `${name}/` : name;
  if (Buffer.byteLength(full) > 100) throw new Error(`tar entry name longer than 100 bytes: ${full}`);
  const h = Buffer.alloc(BLOCK, 0);
  h.write(full, 0, 100, 'utf8');
  h.write(octal(kind === 'dir' ? 0o755 : 0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(kind === 'dir' ? 0 : size, 12), 124, 'ascii');
  h.write(octal(mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum field counts as spaces while summing
  h.write(kind === 'dir' ? '5' : '0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

function write(out: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

/** Writes the entries in the order given (callers sort them) and the two zero blocks that end a tar. */
export async function writeUstar(out: Writable, entries: UstarEntry[], mtime: number): Promise<void> {
  for (const e of entries) {
    if (e.kind === 'dir') {
      await write(out, ustarHeader(e.name, 'dir', 0, mtime));
      continue;
    }
    const size = 'data' in e ? e.data.length : e.size;
    await write(out, ustarHeader(e.name, 'file', size, mtime));
    if ('data' in e) {
      await write(out, e.data);
    } else {
      let seen = 0;
      for await (const chunk of createReadStream(e.path)) {
        seen += (chunk as Buffer).length;
        await write(out, chunk as Buffer);
      }
      if (seen !== size) throw new Error(`${e.path} changed while being archived (${seen} bytes, expected ${size})`);
    }
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad) await write(out, Buffer.alloc(pad, 0));
  }
  await write(out, Buffer.alloc(BLOCK * 2, 0));
}
