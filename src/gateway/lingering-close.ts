/**
 * A lingering close (as Apache's and nginx's lingering_close): a client still sending when we close
 * its connection gets a RST for its next bytes, and a RST that arrives before the client read our
 * answer discards it — Node's fetch, Python's urllib and (sometimes) curl then report a reset or a
 * broken pipe instead of the 413. So what the client still sends is read and dropped, for a while,
 * before the socket is closed: after a refused head (431; `linger`), or before answering a refused
 * body (413, 401, 404…; `answerAfterDrain`, since the HTTP parser owns the socket until then).
 */
import type { Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const LINGER_MS = 2000;
/** Never read more than this from a client we are closing on. */
export const LINGER_BYTES = 64 * 1024 * 1024;

/** Half-closes `socket` (after whatever is queued), discards what arrives, and destroys it after `ms` or `bytes`. */
export function linger(socket: Socket, ms = LINGER_MS, bytes = LINGER_BYTES): void {
  if (socket.destroyed) return;
  let got = 0;
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.on('data', (d: Buffer) => {
    got += d.length;
    if (got > bytes) socket.destroy();
  });
  socket.once('end', () => socket.destroy()); // the client is done sending: nothing left to protect
  socket.once('close', () => clearTimeout(timer));
  socket.on('error', () => socket.destroy());
  socket.resume();
  socket.end();
}

/**
 * Answers a request whose body we refused before reading it (413, 401, 404…). The HTTP server
 * closes such a connection right after the answer, and the client still writing its body gets a
 * reset. So the rest of the body is first read and dropped — at most `capBytes`, for at most
 * `ms` — and only then is the answer sent, with `connection: close`. A body beyond the cap or the
 * time is answered at once (best effort: that client may see the reset).
 */
export function answerAfterDrain(req: IncomingMessage, res: ServerResponse, send: () => void, ms = LINGER_MS, capBytes = LINGER_BYTES): void {
  // HTTP/2 (h2c) has no connection header: the refused stream ends, its connection stays
  if (req.httpVersionMajor < 2) res.setHeader('connection', 'close');
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (req.complete || req.destroyed || declared > capBytes) {
    send();
    return;
  }
  let got = 0;
  let done = false;
  const answer = (): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    req.off('data', onData);
    send();
  };
  const onData = (d: Buffer): void => {
    got += d.length;
    if (got > capBytes) answer();
  };
  const timer = setTimeout(answer, ms);
  timer.unref();
  req.on('data', onData);
  req.once('end', answer);
  req.once('close', answer);
  req.resume();
}

/** `clientError` handler: 431 for oversized headers, 400 for the rest, each followed by a lingering close. */
export function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, text] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout']
        : [400, 'Bad Request'];
  const type = status === 431 ? 'HeadersTooLarge' : status === 408 ? 'RequestTimeout' : 'BadRequest';
  const body = JSON.stringify({ error: { type, message: `${text}: ${err.code ?? err.message}` } });
  socket.write(`HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  linger(socket);
}
