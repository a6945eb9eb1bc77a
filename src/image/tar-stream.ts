import { ByteReader } from './byte-reader.js';
import { TAR_BLOCK, TarFormatError, applyOverrides, parsePax, parseTarHeader, tarPadding, type TarHeader } from './tar-header.js';

/**
 * A streaming tar reader: yields each entry's header (PAX and GNU long names already applied) with
 * its body as chunks. A body the consumer leaves unread is skipped. After the end marker the rest
 * of the stream is drained, so a digest computed over the stream covers every byte.
 */

export interface TarEntry {
  header: TarHeader;
  /** The body's chunks; read it before asking for the next entry, or it is skipped. */
  body(): AsyncGenerator<Buffer>;
}

/** Metadata bodies (PAX, long names) larger than this are refused: they are read into memory. */
const MAX_META_BYTES = 1024 * 1024;

export async function* readTar(source: AsyncIterable<Buffer | string>): AsyncGenerator<TarEntry> {
  const r = new ByteReader(source);
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const block = await r.read(TAR_BLOCK);
    if (block.length === 0) return; // no end marker: tolerated, as GNU tar does
    const raw = parseTarHeader(block);
    if (raw === null) {
      await r.drain();
      return;
    }
    if (raw.type === 'pax-local' || raw.type === 'pax-global' || raw.type === 'gnu-longname' || raw.type === 'gnu-longlink') {
      if (raw.size > MAX_META_BYTES) throw new TarFormatError(`tar ${raw.type} record of ${raw.size} bytes`);
      const body = await r.read(raw.size);
      if (body.length < raw.size) throw new TarFormatError('tar stream ends inside a header record');
      await r.skip(tarPadding(raw.size));
      if (raw.type === 'pax-local') pax = { ...pax, ...parsePax(body) };
      else if (raw.type === 'gnu-longname') longName = body.toString('utf8').replace(/\0+$/, '');
      else if (raw.type === 'gnu-longlink') longLink = body.toString('utf8').replace(/\0+$/, '');
      // global PAX headers set defaults nobody here needs (mtime, charset): ignored
      continue;
    }
    const header = applyOverrides(raw, pax, longName, longLink);
    pax = {};
    longName = longLink = undefined;
    // links, folders and devices are header-only whatever their size field says (as Go's archive/tar reads them)
    const size = header.type === 'file' || header.type === 'other' ? header.size : 0;
    let left = size;
    async function* body(): AsyncGenerator<Buffer> {
      while (left > 0) {
        const c = await r.take(left);
        if (c.length === 0) throw new TarFormatError(`tar stream ends inside ${JSON.stringify(header.name)}`);
        left -= c.length;
        yield c;
      }
    }
    yield { header, body };
    if (left > 0 && (await r.skip(left)) < left) throw new TarFormatError(`tar stream ends inside ${JSON.stringify(header.name)}`);
    await r.skip(tarPadding(size));
  }
}
