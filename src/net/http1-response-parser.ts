/**
 * An incremental HTTP/1.1 response parser for the lean client in `http1-pool.ts`. It handles what a
 * server may send to a client that does not pipeline: interim 1xx responses (skipped), bodies
 * framed by content-length, chunked encoding (with extensions and trailers, which are dropped), no
 * body (204, 304) and bodies delimited by the connection closing. Anything else is a
 * `ResponseParseError`, after which the connection cannot be trusted and must be dropped.
 */

export class ResponseParseError extends Error {
  constructor(message: string) {
    super(`malformed HTTP response: ${message}`);
    this.name = 'ResponseParseError';
  }
}

/** Where a parsed response goes; set by the connection for each request. */
export interface ResponseSink {
  /** `headers` is a flat [name, value, …] list with lower-case names. */
  onHead(status: number, headers: string[]): void;
  onBody(chunk: Buffer): void;
  onEnd(): void;
}

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 4096;
const CRLFCRLF = Buffer.from('\r\n\r\n');

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
}

export class ResponseParser {
  sink: ResponseSink | undefined;
  /** Whether the connection may carry another request once this response has ended. */
  keepAlive = true;
  private state = State.Head;
  private head: Buffer | undefined;
  private remaining = 0;
  private line = '';

  /** True between responses (nothing of a response read yet). */
  get idle(): boolean {
    return this.state === State.Head && this.head === undefined;
  }

  /** Feeds bytes read from the connection; throws `ResponseParseError`. */
  execute(data: Buffer): void {
    let off = 0;
    while (off < data.length) {
      switch (this.state) {
        case State.Head:
          off = this.readHead(data, off);
          break;
        case State.Length:
          off = this.counted(data, off);
          if (this.remaining === 0) this.end();
          break;
        case State.UntilClose:
          this.body(off === 0 ? data : data.subarray(off));
          off = data.length;
          break;
        case State.ChunkSize: {
          const [line, next] = this.readLine(data, off);
          off = next;
          if (line === undefined) break;
          const size = line.split(';', 1)[0]!.trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(size)) throw new ResponseParseError(`bad chunk size "${size.slice(0, 40)}"`);
          this.remaining = parseInt(size, 16);
          this.state = this.remaining === 0 ? State.Trailers : State.ChunkData;
          break;
        }
        case State.ChunkData:
          off = this.counted(data, off);
          if (this.remaining === 0) this.state = State.ChunkEnd;
          break;
        case State.ChunkEnd: {
          const [line, next] = this.readLine(data, off);
          off = next;
          if (line === undefined) break;
          if (line !== '') throw new ResponseParseError('chunk data longer than its size');
          this.state = State.ChunkSize;
          break;
        }
        case State.Trailers: {
          const [line, next] = this.readLine(data, off);
          off = next;
          if (line === '') this.end();
          break;
        }
      }
    }
  }

  /** The connection closed: ends a body delimited by the close; throws if a response was cut short. */
  finish(): void {
    if (this.state === State.UntilClose) {
      this.end();
      return;
    }
    if (!this.idle) throw new ResponseParseError('connection closed in the middle of a response');
  }

  /** Passes on up to `remaining` body bytes from `off`; returns the next offset. */
  private counted(data: Buffer, off: number): number {
    const n = Math.min(this.remaining, data.length - off);
    this.remaining -= n;
    this.body(data.subarray(off, off + n));
    return off + n;
  }

  private body(chunk: Buffer): void {
    if (chunk.length > 0) this.sink?.onBody(chunk);
  }

  private end(): void {
    this.state = State.Head;
    this.sink?.onEnd();
  }

  /** Accumulates a line (CRLF or LF) across chunks: [line or undefined when incomplete, next offset]. */
  private readLine(data: Buffer, off: number): [string | undefined, number] {
    const nl = data.indexOf(10, off);
    const end = nl === -1 ? data.length : nl;
    this.line += data.toString('latin1', off, end);
    if (this.line.length > MAX_LINE_BYTES) throw new ResponseParseError('line too long');
    if (nl === -1) return [undefined, data.length];
    let line = this.line;
    this.line = '';
    if (line.endsWith('\r')) line = line.slice(0, -1);
    return [line, nl + 1];
  }

  private readHead(data: Buffer, off: number): number {
    let buf: Buffer;
    let from: number;
    if (this.head) {
      // A head split across reads: search only the new bytes (and the 3 before them).
      from = Math.max(0, this.head.length - 3);
      buf = Buffer.concat([this.head, data.subarray(off)]);
    } else {
      from = 0;
      buf = off === 0 ? data : data.subarray(off);
    }
    const at = buf.indexOf(CRLFCRLF, from);
    if (at === -1) {
      if (buf.length > MAX_HEAD_BYTES) throw new ResponseParseError(`head longer than ${MAX_HEAD_BYTES} bytes`);
      this.head = Buffer.from(buf);
      return data.length;
    }
    const consumedOfData = at + 4 - (this.head?.length ?? 0);
    this.head = undefined;
    this.parseHead(buf.toString('latin1', 0, at));
    return off + consumedOfData;
  }

  private parseHead(text: string): void {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0]!);
    if (!m) throw new ResponseParseError(`bad status line "${lines[0]!.slice(0, 80)}"`);
    const minor = m[1]!;
    const status = Number(m[2]);
    const headers: string[] = [];
    let length: number | undefined;
    let chunked = false;
    let connection = '';
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new ResponseParseError(`bad header line "${line.slice(0, 80)}"`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.push(name, value);
      if (name === 'content-length') {
        if (!/^\d{1,15}$/.test(value) || (length !== undefined && length !== Number(value))) throw new ResponseParseError(`bad content-length "${value}"`);
        length = Number(value);
      } else if (name === 'transfer-encoding') {
        chunked = value.toLowerCase().split(',').pop()!.trim() === 'chunked';
      } else if (name === 'connection') {
        connection = value.toLowerCase();
      }
    }
    // Interim responses (100 Continue, 103 Early Hints) precede the real one.
    if (status >= 100 && status < 200) {
      if (status === 101) throw new ResponseParseError('protocol upgrades are not supported');
      return;
    }
    this.keepAlive = minor === '1' ? !connection.includes('close') : connection.includes('keep-alive');
    this.sink?.onHead(status, headers);
    if (status === 204 || status === 304) this.end();
    else if (chunked) this.state = State.ChunkSize;
    else if (length !== undefined) {
      this.remaining = length;
      if (length === 0) this.end();
      else this.state = State.Length;
    } else {
      this.keepAlive = false;
      this.state = State.UntilClose;
    }
  }
}
