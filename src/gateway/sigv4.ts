import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * AWS Signature Version 4 verification, so the AWS SDKs and CLI can call the gateway's Lambda
 * Invoke API with the platform's token as their secret access key (any access key id): the
 * signature proves the caller holds the token without the token ever crossing the wire. Follows
 * the published algorithm (canonical request → string to sign → HMAC chain over date, region,
 * service, "aws4_request"). Pure functions; the caller chooses which secrets to try.
 */

export interface SigV4Parts {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

export class SigV4Error extends Error {}

const AUTH = /^AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request\s*,\s*SignedHeaders=([a-z0-9\-;]+)\s*,\s*Signature=([0-9a-f]{64})\s*$/;

export function parseAuthorization(header: string | undefined): SigV4Parts | undefined {
  if (!header) return undefined;
  const m = AUTH.exec(header);
  if (!m) return undefined;
  return { accessKeyId: m[1]!, date: m[2]!, region: m[3]!, service: m[4]!, signedHeaders: m[5]!.split(';'), signature: m[6]! };
}

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, '%20'));
  } catch {
    return s;
  }
}

/** Non-S3 services sign each path segment encoded once more (the SDK's uriEscapePath of the encoded path). */
export function canonicalUri(rawPath: string): string {
  return rawPath.split('/').map((seg) => rfc3986(seg)).join('/') || '/';
}

export function canonicalQuery(rawQuery: string): string {
  if (!rawQuery) return '';
  return rawQuery
    .split('&')
    .filter(Boolean)
    .map((p) => {
      const i = p.indexOf('=');
      const k = decodeSafe(i < 0 ? p : p.slice(0, i));
      const v = i < 0 ? '' : decodeSafe(p.slice(i + 1));
      return [rfc3986(k), rfc3986(v)] as const;
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function headerValue(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v.join(',') : v).trim().replace(/\s+/g, ' ');
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const k1 = createHmac('sha256', `AWS4${secret}`).update(date).digest();
  const k2 = createHmac('sha256', k1).update(region).digest();
  const k3 = createHmac('sha256', k2).update(service).digest();
  return createHmac('sha256', k3).update('aws4_request').digest();
}

export interface SignedRequest {
  method: string;
  rawPath: string;
  rawQuery: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The string to sign for a request under `parts`; throws SigV4Error for a request that cannot be valid. */
export function stringToSign(req: SignedRequest, parts: SigV4Parts): string {
  if (!parts.signedHeaders.includes('host')) throw new SigV4Error('the signature must cover the host header');
  const amzDate = headerValue(req.headers, 'x-amz-date');
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate)) throw new SigV4Error('missing or malformed x-amz-date header');
  if (!amzDate.startsWith(parts.date)) throw new SigV4Error('x-amz-date does not match the credential scope date');
  const bodyHash = sha256Hex(req.body);
  const declared = headerValue(req.headers, 'x-amz-content-sha256');
  // The body must be the one signed: a declared hash is checked against the bytes received.
  if (declared !== undefined && declared !== bodyHash) throw new SigV4Error('x-amz-content-sha256 does not match the body');
  const canonicalHeaders = parts.signedHeaders.map((n) => {
    const v = headerValue(req.headers, n);
    if (v === undefined) throw new SigV4Error(`signed header "${n}" is missing`);
    return `${n}:${v}\n`;
  });
  const canonicalRequest = [req.method, canonicalUri(req.rawPath), canonicalQuery(req.rawQuery), canonicalHeaders.join(''), parts.signedHeaders.join(';'), bodyHash].join('\n');
  const scope = `${parts.date}/${parts.region}/${parts.service}/aws4_request`;
  return ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
}

/** Seconds since the epoch of an x-amz-date value (YYYYMMDDTHHMMSSZ). */
export function amzDateEpochMs(amzDate: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m) return NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

/** AWS refuses signatures more than 15 minutes off; so does the gateway (a captured request cannot be replayed later). */
export const MAX_CLOCK_SKEW_MS = 15 * 60_000;

/** Which of `secrets` signed the request (by index), or -1. Constant-time per comparison. */
export function verifySigV4(req: SignedRequest, parts: SigV4Parts, secrets: readonly string[], now = Date.now()): number {
  const sts = stringToSign(req, parts);
  const at = amzDateEpochMs(headerValue(req.headers, 'x-amz-date')!);
  if (!(Math.abs(now - at) <= MAX_CLOCK_SKEW_MS)) throw new SigV4Error('the request time (x-amz-date) is more than 15 minutes from the gateway clock');
  const given = Buffer.from(parts.signature, 'hex');
  let found = -1;
  secrets.forEach((secret, i) => {
    const sig = createHmac('sha256', signingKey(secret, parts.date, parts.region, parts.service)).update(sts).digest();
    if (sig.length === given.length && timingSafeEqual(sig, given) && found < 0) found = i;
  });
  return found;
}
