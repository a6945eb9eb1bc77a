import type { IncomingMessage } from 'node:http';
import { HttpError } from '../core/errors.js';

/**
 * Reads a request body up to `limit` bytes. A declared Content-Length over the limit is refused
 * before a byte is read; a chunked body is cut off as soon as it crosses the limit, so an oversized
 * payload never sits in memory.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) {
    return Promise.reject(tooLarge(limit, declared));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(tooLarge(limit, size));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

function tooLarge(limit: number, size: number): HttpError {
  return new HttpError(413, 'PayloadTooLarge', `request body of ${size}${size > limit ? '+' : ''} bytes exceeds the inline limit of ${limit} bytes`, {
    limitBytes: limit,
  });
}

export async function readJson(req: IncomingMessage, limit = 1024 * 1024): Promise<unknown> {
  const body = await readBody(req, limit);
  try {
    return body.length ? JSON.parse(body.toString('utf8')) : {};
  } catch (err) {
    throw new HttpError(400, 'BadRequest', `request body is not valid JSON: ${(err as Error).message}`);
  }
}
