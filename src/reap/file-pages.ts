import { open, readFile, writeFile } from 'node:fs/promises';
import { hostPathOf, type ExternalMount } from '../snapshot/mounts.js';

/**
 * File-backed pages (issue 4, item 5). A restored runtime also touches pages of files it maps — the
 * node or python binary, shared libraries — which come from the page cache, not from the snapshot.
 * On a host with cold caches each is a synchronous disk read at fault time. The record phase notes
 * which file pages the first invocation touched (the present pages of file mappings in
 * /proc/PID/pagemap, translated to file offsets); the prefetch phase has the REAP monitor issue
 * readahead(2) for those ranges while CRIU is still restoring.
 *
 * File format (`file-pages.tsv`, read by native/reap-monitor): one `offset<TAB>length<TAB>path` per
 * line, ranges merged and page aligned.
 */

export const FILE_PAGES_FILE = 'file-pages.tsv';
const PAGE = 4096;

export interface FileRange {
  path: string;
  offset: number;
  length: number;
}

interface Mapping {
  start: number;
  end: number;
  offset: number;
  path: string;
}

/** Pure: file mappings from the text of /proc/PID/maps (regular files only). */
export function parseFileMappings(maps: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of maps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+\S+\s+([0-9a-f]+)\s+\S+\s+(\d+)\s+(\/.*)$/.exec(line);
    if (!m || m[4] === '0') continue; // inode 0: not a file
    const file = m[5]!;
    if (file.endsWith(' (deleted)') || file.startsWith('/dev/') || file.startsWith('/proc/') || file.startsWith('/memfd:')) continue;
    out.push({ start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16), offset: parseInt(m[3]!, 16), path: file });
  }
  return out;
}

/** Pure: merges ranges per file (sorted, adjacent or overlapping joined). */
export function mergeRanges(ranges: FileRange[]): FileRange[] {
  const byFile = new Map<string, FileRange[]>();
  for (const r of ranges) byFile.set(r.path, [...(byFile.get(r.path) ?? []), r]);
  const out: FileRange[] = [];
  for (const [file, list] of [...byFile].sort(([a], [b]) => a.localeCompare(b))) {
    list.sort((a, b) => a.offset - b.offset);
    let cur: FileRange | null = null;
    for (const r of list) {
      if (cur && r.offset <= cur.offset + cur.length) {
        cur.length = Math.max(cur.length, r.offset + r.length - cur.offset);
      } else {
        if (cur) out.push(cur);
        cur = { path: file, offset: r.offset, length: r.length };
      }
    }
    if (cur) out.push(cur);
  }
  return out;
}

/**
 * The file pages `pid` has mapped in its page tables now (root: /proc/PID/pagemap shows frames).
 * A sandboxed instance names its files by sandbox paths: with `mounts` (its binds) they become host
 * paths, and files on none of them (its own tmpfs) are left out.
 */
export async function recordFilePages(pid: number, mounts?: ExternalMount[]): Promise<FileRange[]> {
  const mappings = parseFileMappings(await readFile(`/proc/${pid}/maps`, 'utf8')).flatMap((m) => {
    if (!mounts) return [m];
    const host = hostPathOf(m.path, mounts);
    return host ? [{ ...m, path: host }] : [];
  });
  const pagemap = await open(`/proc/${pid}/pagemap`, 'r');
  const ranges: FileRange[] = [];
  try {
    for (const m of mappings) {
      const pages = (m.end - m.start) / PAGE;
      const buf = Buffer.alloc(pages * 8);
      const { bytesRead } = await pagemap.read(buf, 0, buf.length, (m.start / PAGE) * 8);
      for (let i = 0; i < bytesRead / 8; i++) {
        const entry = buf.readBigUInt64LE(i * 8);
        // bit 63 present, bit 62 swapped; bit 61 "file page or shared anon" tells COW copies apart
        const present = (entry >> 63n) & 1n;
        const filePage = (entry >> 61n) & 1n;
        if (present && filePage) ranges.push({ path: m.path, offset: m.offset + i * PAGE, length: PAGE });
      }
    }
  } finally {
    await pagemap.close();
  }
  return mergeRanges(ranges);
}

export function formatFilePages(ranges: FileRange[]): string {
  return ranges.map((r) => `${r.offset}\t${r.length}\t${r.path}\n`).join('');
}

export async function writeFilePages(file: string, ranges: FileRange[]): Promise<void> {
  await writeFile(file, formatFilePages(ranges));
}

export function totalBytes(ranges: FileRange[]): number {
  return ranges.reduce((s, r) => s + r.length, 0);
}
