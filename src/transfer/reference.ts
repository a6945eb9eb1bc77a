/**
 * Sealed references. A reference is the only thing user code ever holds for an object passed by
 * reference; it is AES-256-GCM sealed with a key only the platform holds, so user code can neither
 * read the producer's address nor forge or alter a reference (a flipped byte fails authentication).
 *
 * Wire form: `hl1.` + base64url(iv[12] ‖ ciphertext ‖ tag[16]); the plaintext is the JSON payload.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { TransferError } from './errors.js';

const PREFIX = 'hl1.';
const AAD = Buffer.from('hivelab-reference-v1');

/** What a reference carries, per transport (short keys: references travel inside every invocation). */
export type RefPayload =
  | {
      t: 'xdt';
      /** producer worker's XDT peer server, host:port */
      a: string;
      /** producer worker's boot id: a restarted worker on the same port must not serve the key */
      w: string;
      /** producer instance */
      i: string;
      /** object key (random, 128 bits) */
      k: string;
      /** retrievals allowed */
      n: number;
      /** expiry, epoch ms */
      e: number;
      /** store-and-forward: the consumer sidecar takes the whole object before handing it over */
      m?: 'saf';
    }
  | { t: 'storage'; b: string; k: string; n: number; e: number }
  | { t: 'redis'; k: string; n: number; e: number; c?: string }
  | { t: 'inline'; c: string; d: string; e: number; i?: string; n?: number };

export function sealReference(key: Buffer, payload: RefPayload): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(AAD);
  const ct = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
  return PREFIX + Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64url');
}

/** Opens a reference; throws XdtRefInvalid for anything not sealed by this platform's key. */
export function openReference(key: Buffer, ref: string): RefPayload {
  if (typeof ref !== 'string' || !ref.startsWith(PREFIX)) {
    throw new TransferError('XdtRefInvalid', 'not a Hivelab reference');
  }
  const raw = Buffer.from(ref.slice(PREFIX.length), 'base64url');
  // base64url decoding silently drops bad characters: re-encoding must give back the same text
  if (raw.length < 12 + 16 + 2 || raw.toString('base64url') !== ref.slice(PREFIX.length)) {
    throw new TransferError('XdtRefInvalid', 'malformed reference');
  }
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAAD(AAD);
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    plain = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
  } catch {
    throw new TransferError('XdtRefInvalid', 'reference failed authentication (forged or altered)');
  }
  const payload = JSON.parse(plain.toString('utf8')) as RefPayload;
  return payload;
}

/** Expiry check shared by every transport. */
export function assertNotExpired(payload: RefPayload, now = Date.now()): void {
  if (now >= payload.e) {
    throw new TransferError('XdtRefExpired', `reference expired at ${new Date(payload.e).toISOString()}`);
  }
}

export function checkSealKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== 32) throw new Error('sealKey must be 32 bytes (AES-256)');
}
