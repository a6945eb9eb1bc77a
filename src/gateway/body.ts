import type { IncomingMessage } from 'node:http';
import { HttpError } from '../core/errors.js';

/**
 * How long a client may take to send a body: `idleMs` without a byte, `totalMs` in all. A body
 * that never ends (a chunked upload left open, a slow-loris client) is cut off with 408 instead of
 * holding a connection and its buffered bytes for ever.
 */
export interface BodyDeadlines {
  idleMs: number;
  totalMs: number;
}

export const DEFAULT_BODY_DEADLINES: BodyDeadlines = { idleMs: 10_000, totalMs: 60_000 };

/**
 * Bytes of request bodies the gateway holds at once, over all requests still arriving. Unfinished
 * bodies then cannot grow the gateway's memory past the budget: a body that would is refused (503).
 */
export class BodyBudget {
  private used = 0;
  constructor(readonly limitBytes: number) {}
  get usedBytes(): number {
    return this.used;
  }
  tryTake(bytes: number): boolean {
    if (this.used + bytes > this.limitBytes) return false;
    this.used += bytes;
    return true;
  }
  give(bytes: number): void {
    this.used -= bytes;
  }
}

export const DEFAULT_BODY_BUDGET_BYTES = 256 * 1024 * 1024;

/**
 * Reads a request body up to `limit` bytes. A declared Content-Length over the limit is refused
 * before a byte is read; a chunked body is cut off as soon as it crosses the limit, so an oversized
 * payload never sits in memory.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  deadlines: BodyDeadlines = DEFAULT_BODY_DEADLINES,
  budget?: BodyBudget,
): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) {
    return Promise.reject(tooLarge(limit, declared));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let held = 0;
    const finish = (err?: Error): void => {
      clearTimeout(idle);
      clearTimeout(total);
      req.off('data', onData);
      budget?.give(held);
      held = 0;
      if (!err) return resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      req.pause();
      chunks.length = 0;
      reject(err);
    };
    const timedOut = (what: string) => () =>
      finish(new HttpError(408, 'RequestTimeout', `the request body ${what}`, { idleMs: deadlines.idleMs, totalMs: deadlines.totalMs }));
    // one timer each, refreshed rather than re-created per chunk (this is the invocation hot path)
    const idle = setTimeout(timedOut(`stalled: no byte for ${deadlines.idleMs} ms`), deadlines.idleMs);
    const total = setTimeout(timedOut(`took longer than ${deadlines.totalMs} ms`), deadlines.totalMs);
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > limit) return finish(tooLarge(limit, size));
      if (budget) {
        if (!budget.tryTake(c.length)) {
          return finish(new HttpError(503, 'GatewayBusy', `the gateway holds ${budget.limitBytes} B of request bodies still arriving; retry later`));
        }
        held += c.length;
      }
      chunks.push(c);
      idle.refresh();
    };
    req.on('data', onData);
    req.once('end', () => finish());
    req.once('error', (err) => finish(err));
    req.once('close', () => {
      if (!req.complete) finish(new HttpError(400, 'BadRequest', 'the client closed the connection before the body was complete'));
    });
  });
}

function tooLarge(limit: number, size: number): HttpError {
  return new HttpError(413, 'PayloadTooLarge', `request body of ${size}${size > limit ? '+' : ''} bytes exceeds the inline limit of ${limit} bytes`, {
    limitBytes: limit,
  });
}

export async function readJson(req: IncomingMessage, limit = 1024 * 1024, deadlines?: BodyDeadlines): Promise<unknown> {
  const body = await readBody(req, limit, deadlines);
  try {
    return body.length ? JSON.parse(body.toString('utf8')) : {};
  } catch (err) {
    throw new HttpError(400, 'BadRequest', `request body is not valid JSON: ${(err as Error).message}`);
  }
}
