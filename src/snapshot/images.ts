import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Reading CRIU's images: just enough to know, for every lazily restorable page, where its contents
 * sit in pages-N.img. CRIU's image format: a u32 "common" magic, a u32 image magic, then entries, each
 * a u32 little-endian length followed by a protobuf message. The pages image is raw: page after page,
 * in the order of the pagemap entries that carry the PRESENT flag.
 */

export const PAGE_SIZE = 4096;
const IMG_COMMON_MAGIC = 0x54564319;
const IMG_SERVICE_MAGIC = 0x55105940;
const PAGEMAP_MAGIC = 0x56084025;

/** pagemap_entry flags (criu/include/pagemap.h). */
export const PE_PARENT = 1 << 0;
export const PE_LAZY = 1 << 1;
export const PE_PRESENT = 1 << 2;

/** A run of pages of the restored task's address space. */
export interface PageRun {
  vaddr: bigint;
  nrPages: number;
  flags: number;
  /** Byte offset of the run's first page in the pages image; null when the image holds no data for it (zero pages). */
  pagesOffset: number | null;
}

export interface PageMap {
  /** Absolute path of pages-N.img. */
  pagesFile: string;
  runs: PageRun[];
}

// ---- a tiny protobuf decoder: varints and length-delimited fields are all these images use -------

export type ProtoValue = bigint | Buffer;

/** Decodes one message into field number → values (repeated fields keep their order). */
export function decodeProto(buf: Buffer): Map<number, ProtoValue[]> {
  const fields = new Map<number, ProtoValue[]>();
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error('protobuf: truncated varint');
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new Error('protobuf: varint too long');
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    let value: ProtoValue;
    switch (wire) {
      case 0:
        value = varint();
        break;
      case 1:
        value = buf.readBigUInt64LE(pos);
        pos += 8;
        break;
      case 2: {
        const len = Number(varint());
        if (pos + len > buf.length) throw new Error('protobuf: truncated field');
        value = buf.subarray(pos, pos + len);
        pos += len;
        break;
      }
      case 5:
        value = BigInt(buf.readUInt32LE(pos));
        pos += 4;
        break;
      default:
        throw new Error(`protobuf: unsupported wire type ${wire} (field ${field})`);
    }
    const list = fields.get(field);
    if (list) list.push(value);
    else fields.set(field, [value]);
  }
  return fields;
}

function num(fields: Map<number, ProtoValue[]>, field: number, fallback?: bigint): bigint {
  const v = fields.get(field)?.[0];
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new Error(`protobuf: required field ${field} missing`);
  }
  if (typeof v !== 'bigint') throw new Error(`protobuf: field ${field} is not a number`);
  return v;
}

/** Splits a CRIU image into its protobuf entries, checking the magic. */
export function readImageEntries(buf: Buffer, expectedMagic: number, name: string): Buffer[] {
  if (buf.length < 8) throw new Error(`${name}: too short for a CRIU image`);
  let pos = 0;
  let magic = buf.readUInt32LE(pos);
  pos += 4;
  if (magic === IMG_COMMON_MAGIC || magic === IMG_SERVICE_MAGIC) {
    magic = buf.readUInt32LE(pos);
    pos += 4;
  }
  if (magic !== expectedMagic) throw new Error(`${name}: magic 0x${magic.toString(16)} is not 0x${expectedMagic.toString(16)}`);
  const entries: Buffer[] = [];
  while (pos < buf.length) {
    if (pos + 4 > buf.length) throw new Error(`${name}: truncated entry header`);
    const len = buf.readUInt32LE(pos);
    pos += 4;
    if (pos + len > buf.length) throw new Error(`${name}: truncated entry`);
    entries.push(buf.subarray(pos, pos + len));
    pos += len;
  }
  return entries;
}

/** Parses pagemap-<pid>.img: the head names the pages image; each entry a run with its flags. */
export function parsePagemap(buf: Buffer, name = 'pagemap'): { pagesId: number; runs: PageRun[] } {
  const entries = readImageEntries(buf, PAGEMAP_MAGIC, name);
  if (entries.length === 0) throw new Error(`${name}: no pagemap head`);
  const pagesId = Number(num(decodeProto(entries[0]!), 1));
  const runs: PageRun[] = [];
  let offset = 0;
  for (const e of entries.slice(1)) {
    const f = decodeProto(e);
    const vaddr = num(f, 1);
    const nrPages = Number(num(f, 2));
    const inParent = num(f, 3, 0n) !== 0n;
    // Images without flags predate them: everything not in a parent image is present.
    const flags = f.has(4) ? Number(num(f, 4)) : inParent ? PE_PARENT : PE_PRESENT;
    const present = (flags & PE_PRESENT) !== 0;
    runs.push({ vaddr, nrPages, flags, pagesOffset: present ? offset : null });
    if (present) offset += nrPages * PAGE_SIZE;
  }
  return { pagesId, runs };
}

/** The page map of one task in an images directory (pid: its PID in the dump; 1 is the instance's main process). */
export async function readPageMap(imagesDir: string, pid = 1): Promise<PageMap> {
  const file = path.join(imagesDir, `pagemap-${pid}.img`);
  const { pagesId, runs } = parsePagemap(await readFile(file), file);
  return { pagesFile: path.join(imagesDir, `pages-${pagesId}.img`), runs };
}

/** The runs a lazy-pages daemon serves: CRIU restores all others itself. */
export function lazyRuns(map: PageMap): PageRun[] {
  return map.runs.filter((r) => (r.flags & PE_LAZY) !== 0);
}

/** One dumped task's page map, named by its PID in the dump (what CRIU's lazy-pages handshake sends). */
export interface TaskPageMap extends PageMap {
  pid: number;
}

/** The page-map index's magic; the digit is its version (the monitor refuses any other). */
export const PAGE_MAP_INDEX_MAGIC = 'HLPGMAP2';

/**
 * The page-map index the native REAP monitor reads (it never parses protobuf), one section per
 * dumped task, because CRIU hands the monitor one userfaultfd per restored task and each task's
 * lazy pages live in its own pages-N.img. Little-endian: magic `HLPGMAP2`, u64 task count; per task
 * u64 PID (in the dump's namespace), u64 N of its pages-N.img, u64 run count, then per lazy run u64
 * vaddr, u64 page count, u64 offset in that pages image (all ones: no data, serve a zero page).
 * Returns the number of lazy runs over all tasks.
 */
export async function writePageMapIndex(maps: TaskPageMap[], file: string): Promise<number> {
  const sections = maps.map((m) => ({ m, runs: lazyRuns(m) }));
  const total = sections.reduce((n, s) => n + s.runs.length, 0);
  const buf = Buffer.alloc(16 + sections.length * 24 + total * 24);
  buf.write(PAGE_MAP_INDEX_MAGIC, 0, 'latin1');
  buf.writeBigUInt64LE(BigInt(sections.length), 8);
  let o = 16;
  for (const { m, runs } of sections) {
    const pagesId = /pages-(\d+)\.img$/.exec(m.pagesFile)?.[1];
    if (pagesId === undefined) throw new Error(`page map of task ${m.pid}: ${m.pagesFile} is not a pages-N.img`);
    buf.writeBigUInt64LE(BigInt(m.pid), o);
    buf.writeBigUInt64LE(BigInt(pagesId), o + 8);
    buf.writeBigUInt64LE(BigInt(runs.length), o + 16);
    o += 24;
    for (const r of runs) {
      buf.writeBigUInt64LE(r.vaddr, o);
      buf.writeBigUInt64LE(BigInt(r.nrPages), o + 8);
      buf.writeBigUInt64LE(r.pagesOffset === null ? 0xffffffffffffffffn : BigInt(r.pagesOffset), o + 16);
      o += 24;
    }
  }
  await writeFile(file, buf);
  return total;
}

/** Every dumped task's page map (the instance's whole process tree). */
export async function readTaskPageMaps(imagesDir: string): Promise<TaskPageMap[]> {
  const pids = await dumpedPids(imagesDir);
  if (pids.length === 0) throw new Error(`${imagesDir}: no pagemap-N.img (not a CRIU dump?)`);
  return Promise.all(pids.map(async (pid) => ({ pid, ...(await readPageMap(imagesDir, pid)) })));
}

/** The task PIDs (in the dump's namespace) that have page maps in an images directory. */
export async function dumpedPids(imagesDir: string): Promise<number[]> {
  return (await readdir(imagesDir))
    .map((f) => /^pagemap-(\d+)\.img$/.exec(f)?.[1])
    .filter((x): x is string => x !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}
