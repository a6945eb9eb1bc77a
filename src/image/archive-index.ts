import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { resolveInside } from './entry-name.js';
import { ImageError } from './image-source.js';
import { TAR_BLOCK, TarFormatError, applyOverrides, parsePax, parseTarHeader, tarPadding } from './tar-header.js';

/**
 * Random access into an uncompressed tar file (what `docker save`, `podman save` and `skopeo copy
 * oci-archive:` write): one pass over the headers records where each regular file's bytes are, so a
 * layer is later read straight from the archive without copying it out. Symlinks and hard links
 * between entries (docker save links repeated layers) are followed inside the archive only.
 */

interface Entry {
  kind: 'file' | 'link';
  offset: number;
  size: number;
  /** For links: the archive path it names. */
  target?: string;
}

function clean(name: string): string {
  return name.split('/').filter((p) => p !== '' && p !== '.').join('/');
}

export class ArchiveIndex {
  private constructor(
    readonly file: string,
    private readonly entries: Map<string, Entry>,
  ) {}

  static async build(file: string): Promise<ArchiveIndex> {
    const fh = await open(file, 'r');
    const entries = new Map<string, Entry>();
    try {
      const { size: total } = await fh.stat();
      const block = Buffer.alloc(TAR_BLOCK);
      let at = 0;
      let pax: Record<string, string> = {};
      let longName: string | undefined;
      let longLink: string | undefined;
      while (at + TAR_BLOCK <= total) {
        await fh.read(block, 0, TAR_BLOCK, at);
        const raw = parseTarHeader(block);
        if (raw === null) break;
        at += TAR_BLOCK;
        const meta = raw.type === 'pax-local' || raw.type === 'pax-global' || raw.type === 'gnu-longname' || raw.type === 'gnu-longlink';
        if (meta) {
          if (raw.size > 1024 * 1024) throw new TarFormatError(`tar ${raw.type} record of ${raw.size} bytes`);
          const body = Buffer.alloc(raw.size);
          await fh.read(body, 0, raw.size, at);
          if (raw.type === 'pax-local') pax = { ...pax, ...parsePax(body) };
          else if (raw.type === 'gnu-longname') longName = body.toString('utf8').replace(/\0+$/, '');
          else if (raw.type === 'gnu-longlink') longLink = body.toString('utf8').replace(/\0+$/, '');
          at += raw.size + tarPadding(raw.size);
          continue;
        }
        const h = applyOverrides(raw, pax, longName, longLink);
        pax = {};
        longName = longLink = undefined;
        const size = h.type === 'file' || h.type === 'other' ? h.size : 0;
        if (at + size > total) throw new TarFormatError(`archive ${file} ends inside ${JSON.stringify(h.name)}`);
        const name = clean(h.name);
        if (h.type === 'file') entries.set(name, { kind: 'file', offset: at, size });
        else if (h.type === 'symlink') {
          const dir = name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : '';
          const target = resolveInside(dir, h.linkname);
          if (target !== null) entries.set(name, { kind: 'link', offset: 0, size: 0, target });
        } else if (h.type === 'hardlink') entries.set(name, { kind: 'link', offset: 0, size: 0, target: clean(h.linkname) });
        at += size + tarPadding(size);
      }
    } catch (err) {
      if (err instanceof TarFormatError) throw new ImageError(`${file} is not a readable tar archive: ${err.message}`);
      throw err;
    } finally {
      await fh.close();
    }
    return new ArchiveIndex(file, entries);
  }

  private find(name: string): Entry | undefined {
    let e = this.entries.get(clean(name));
    for (let hops = 0; e?.kind === 'link' && hops < 8; hops++) e = this.entries.get(e.target!);
    return e?.kind === 'file' ? e : undefined;
  }

  has(name: string): boolean {
    return this.find(name) !== undefined;
  }

  async read(name: string, maxBytes = 16 * 1024 * 1024): Promise<Buffer | undefined> {
    const e = this.find(name);
    if (!e) return undefined;
    if (e.size > maxBytes) throw new ImageError(`${this.file}: ${name} is larger than ${maxBytes} bytes`);
    const fh = await open(this.file, 'r');
    try {
      const buf = Buffer.alloc(e.size);
      await fh.read(buf, 0, e.size, e.offset);
      return buf;
    } finally {
      await fh.close();
    }
  }

  async open(name: string): Promise<Readable> {
    const e = this.find(name);
    if (!e) throw new ImageError(`${this.file}: ${name} is missing from the archive`);
    return e.size === 0 ? Readable.from([]) : createReadStream(this.file, { start: e.offset, end: e.offset + e.size - 1 });
  }
}
