/**
 * Every SDK call to the sidecar, and above all `get`, the hot half of every transfer: the answer is
 * read from the sidecar's Unix socket straight into one buffer of its announced size. A plain
 * http.request would have the kernel copy each 64 KiB into a fresh chunk, run the HTTP parser and a
 * 'data' event per chunk, then copy every chunk again into the result (and leave 100 MB of garbage
 * per 100 MB object). With the socket's `onread` buffer pointing at the unfilled tail of the result,
 * there is one copy (kernel → result) and no garbage. Only what the sidecar answers is parsed: a
 * status line, headers and a body of `content-length` bytes (the sidecar always sends one); the
 * connection is closed after the response.
 *
 * Loaded next to sdk.ts inside the sandbox: node: builtins only.
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

/**
 * A failure before any answer (`connect`: nothing was answered, so the call may be repeated) or
 * during it (`response`: broken off); sdk.ts maps them to typed errors.
 */
export class ReadIntoError extends Error {
  constructor(
    readonly phase: 'connect' | 'response',
    message: string,
  ) {
    super(message);
  }
}

const HEAD_LIMIT = 64 * 1024;
const clean = (v: string) => v.replace(/[\r\n]/g, ' ');

export function postAndReadInto(socketPath: string, path: string, headers: Record<string, string>, body: Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const head = Buffer.allocUnsafe(HEAD_LIMIT);
    const spare = Buffer.allocUnsafe(4096);
    let headLen = 0;
    let whole: Buffer | undefined;
    let got = 0;
    let status = 0;
    let contentType: string | undefined;
    let settled = false;
    const finish = (err: Error | undefined, res?: RawResponse) => {
      if (settled) return;
      settled = true;
      // on success the sidecar closes the connection itself once the response is out; a reset from
      // our side could still cut its last writes short
      if (err) sock.destroy();
      else sock.end();
      if (err) reject(err);
      else resolve(res!);
    };
    const complete = () => whole !== undefined && got === whole.length;

    /** Parses the status line and headers once they are all in `head`; moves early body bytes over. */
    const parseHead = (): void => {
      const end = head.subarray(0, headLen).indexOf('\r\n\r\n');
      if (end < 0) {
        if (headLen === HEAD_LIMIT) finish(new ReadIntoError('response', 'sidecar response headers too large'));
        return;
      }
      const lines = head.toString('latin1', 0, end).split('\r\n');
      status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
      let length = -1;
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        const name = line.slice(0, i).trim().toLowerCase();
        const value = line.slice(i + 1).trim();
        if (name === 'content-length') length = Number(value);
        else if (name === 'content-type') contentType = value;
      }
      if (!status || !Number.isInteger(length) || length < 0) {
        finish(new ReadIntoError('response', `unexpected sidecar response: ${lines[0]} (content-length ${length})`));
        return;
      }
      whole = Buffer.allocUnsafe(length);
      const early = head.subarray(end + 4, headLen);
      if (early.length > whole.length) {
        finish(new ReadIntoError('response', 'sidecar sent more than announced'));
        return;
      }
      early.copy(whole, 0);
      got = early.length;
    };

    const sock = net.connect({
      path: socketPath,
      onread: {
        // where the kernel copies the next read: the unfilled tail of the result once headers are in
        buffer: () => (whole ? (got < whole.length ? whole.subarray(got) : spare) : head.subarray(headLen)),
        callback: (n: number, buf: Uint8Array) => {
          if (settled) return false;
          if (whole) {
            if (buf === spare || got + n > whole.length) {
              finish(new ReadIntoError('response', 'sidecar sent more than announced'));
              return false;
            }
            got += n;
          } else {
            headLen += n;
            parseHead();
          }
          if (complete()) finish(undefined, { status, contentType, body: whole! });
          return true;
        },
      },
    });
    sock.on('connect', () => {
      let req = `POST ${path} HTTP/1.1\r\nhost: sidecar\r\nconnection: close\r\ncontent-length: ${body.length}\r\n`;
      for (const [k, v] of Object.entries(headers)) req += `${k}: ${clean(v)}\r\n`;
      // head and body in one writev
      sock.cork();
      sock.write(req + '\r\n');
      sock.write(body);
      sock.uncork();
    });
    // an answer cut short is `response`; one that never started (refused, or the upload broke before
    // the sidecar said anything) is `connect`
    const answered = () => headLen > 0 || whole !== undefined;
    sock.on('error', (err) =>
      finish(answered() ? new ReadIntoError('response', `object transfer broke off after ${got} B: ${err.message}`) : new ReadIntoError('connect', err.message)),
    );
    sock.on('close', () => {
      if (complete()) return;
      if (!answered()) finish(new ReadIntoError('connect', 'the sidecar closed the connection without an answer'));
      else finish(new ReadIntoError('response', `object transfer broke off after ${got}${whole ? ` of ${whole.length}` : ''} B`));
    });
  });
}
