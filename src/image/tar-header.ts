/**
 * One 512-byte tar header (POSIX ustar, with GNU's base-256 numbers) and PAX extended records.
 * Pure parsing: what an entry claims, before anyone decides whether to believe it.
 */

export const TAR_BLOCK = 512;

export type TarEntryType =
  | 'file'
  | 'hardlink'
  | 'symlink'
  | 'char'
  | 'block'
  | 'dir'
  | 'fifo'
  | 'pax-local'
  | 'pax-global'
  | 'gnu-longname'
  | 'gnu-longlink'
  | 'other';

export interface TarHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  type: TarEntryType;
  linkname: string;
}

/** A tar stream that is not one (bad checksum, truncated, nonsense numbers). */
export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file', // contiguous file: a regular file everywhere that matters
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
  x: 'pax-local',
  g: 'pax-global',
  L: 'gnu-longname',
  K: 'gnu-longlink',
};

function text(b: Buffer, start: number, len: number): string {
  const field = b.subarray(start, start + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

/** Octal (space/NUL padded) or, with the top bit of the first byte set, GNU's big-endian base 256. */
function num(b: Buffer, start: number, len: number, what: string): number {
  const field = b.subarray(start, start + len);
  if (field[0]! & 0x80) {
    let n = 0;
    for (let i = 1; i < len; i++) n = n * 256 + field[i]!;
    if (!Number.isSafeInteger(n)) throw new TarFormatError(`tar header: ${what} is too large`);
    return n;
  }
  const s = text(b, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError(`tar header: ${what} is not an octal number (${JSON.stringify(s.slice(0, 16))})`);
  return parseInt(s, 8);
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** The header in `block`, or null for an all-zero block (the end-of-archive marker). */
export function parseTarHeader(block: Buffer): TarHeader | null {
  if (block.length !== TAR_BLOCK) throw new TarFormatError(`truncated tar header (${block.length} bytes)`);
  if (isZero(block)) return null;
  const stored = num(block, 148, 8, 'checksum');
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  if (sum !== stored) throw new TarFormatError('tar header checksum mismatch (not a tar stream, or a corrupted one)');
  let name = text(block, 0, 100);
  const magic = text(block, 257, 6);
  if (magic === 'ustar') {
    // POSIX ustar's prefix field (GNU's "ustar  " magic has none there)
    const prefix = text(block, 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  const flag = String.fromCharCode(block[156]!);
  return {
    name,
    mode: num(block, 100, 8, 'mode'),
    uid: num(block, 108, 8, 'uid'),
    gid: num(block, 116, 8, 'gid'),
    size: num(block, 124, 12, 'size'),
    type: TYPES[flag] ?? 'other',
    linkname: text(block, 157, 100),
  };
}

/** PAX records (`<len> <key>=<value>\n`), e.g. `path`, `linkpath`, `size`, `uid`, `gid`. */
export function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    if (space === -1) break;
    const len = Number(body.subarray(at, space).toString('ascii'));
    if (!Number.isInteger(len) || len <= 0 || at + len > body.length) throw new TarFormatError('malformed PAX record');
    const record = body.subarray(space + 1, at + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    at += len;
  }
  return out;
}

/** Lays PAX overrides (and GNU long names) over a header. */
export function applyOverrides(h: TarHeader, pax: Record<string, string>, longName?: string, longLink?: string): TarHeader {
  const out = { ...h };
  if (longName !== undefined) out.name = longName;
  if (longLink !== undefined) out.linkname = longLink;
  if (pax.path !== undefined) out.name = pax.path;
  if (pax.linkpath !== undefined) out.linkname = pax.linkpath;
  for (const key of ['size', 'uid', 'gid'] as const) {
    if (pax[key] === undefined) continue;
    const n = Number(pax[key]);
    if (!Number.isSafeInteger(n) || n < 0) throw new TarFormatError(`PAX ${key} is not a number`);
    out[key] = n;
  }
  return out;
}

/** Bytes of padding after a body of `size` bytes. */
export function tarPadding(size: number): number {
  return (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;
}
