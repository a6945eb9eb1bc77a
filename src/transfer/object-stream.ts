/** Shapes shared by the transports: an object on its way in (from the SDK) and out (to the SDK). */
import type { Readable } from 'node:stream';
import { TransferError } from './errors.js';

/**
 * Where an upload that reads itself writes (a socket with an `onread` buffer): straight into the
 * object's pool buffers, with no chunk of its own in between.
 */
export interface ByteTarget {
  /** where the next bytes go (at most what the object still lacks), or undefined while no buffer is free */
  space(): Buffer | undefined;
  /** `n` bytes were written at the start of the last `space()` */
  wrote(n: number): void;
  /** resolves once `space()` has room again (or rejects when the object failed) */
  room(): Promise<void>;
}

/** An upload that reads itself into a ByteTarget; resolves once it has written the object's whole size. */
export interface ByteSource {
  readInto(target: ByteTarget): Promise<void>;
  /**
   * Stops reading at once. The kernel writes into the last buffer handed out whenever data arrives,
   * so this must run before that buffer can go back to the pool.
   */
  stop(): void;
}

export interface IncomingObject {
  /** the upload as a stream a transport may consume and destroy */
  body: Readable;
  /**
   * the upload itself, for a reader that only listens and pauses (never destroys it): XDT's ingest
   * reads it directly, without the extra stream hop `body` costs per piece
   */
  source?: Readable;
  /** the upload as something that reads itself into XDT's pool buffers (an upload the SDK offered) */
  offered?: ByteSource;
  /** declared length (content-length of the SDK's upload) */
  size: number;
  contentType: string;
}

/**
 * `Held`: an object this very worker holds, which only the transport holding it can read (XDT's
 * LocalObjectBody, served from its pool buffers with no HTTP/2 hop); the other transports have none.
 */
export interface OutgoingObject<Held = never> {
  contentType: string;
  size: number;
  /** a stream, whole bytes, or an XDT object held by this very worker (read from its pool buffers) */
  body: Readable | Buffer | Held;
}

/** Reads a whole stream, refusing more than `limit` bytes (so a wrong size can never balloon memory). */
export async function readAll(body: Readable, limit: number, tooLarge: () => TransferError): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    n += b.length;
    if (n > limit) throw tooLarge();
    parts.push(b);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
}

export function normalizeContentType(ct: string | undefined): string {
  const t = (ct ?? '').toLowerCase();
  if (t.startsWith('application/json')) return 'application/json';
  if (t.startsWith('text/')) return ct!;
  return 'application/octet-stream';
}

export const TRANSFERS = ['inline', 'storage', 'redis', 'xdt', 'xdt-saf'] as const;
export type TransferKind = (typeof TRANSFERS)[number];

export function parseTransfer(t: string | null | undefined, fallback: TransferKind): TransferKind {
  if (t === null || t === undefined || t === '') return fallback;
  if ((TRANSFERS as readonly string[]).includes(t)) return t as TransferKind;
  throw new TransferError('InvalidArgument', `unknown transfer "${t}" (one of ${TRANSFERS.join(', ')})`);
}
