import { createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { Problems, asObject, checkInputEcho, num, type Json } from './util.js';

/** The secret in the auth functions' manifests (`env.AUTH_SECRET` in functions/auth-node and auth-python). */
export const AUTH_SECRET = 'hivelab-suite-secret';

/**
 * aes / pyaes: the round trip holds, and the ciphertext is real AES-128-CTR: its first bytes, decrypted
 * here with OpenSSL under the returned key and IV, give back the plaintext's first bytes.
 */
export function validateAes(output: unknown, event: Json): string[] {
  const p = new Problems();
  const out = asObject(output, p);
  if (!out) return p.list;
  const bytes = Math.round(num(event, 'kb', 16) * 1024);
  p.check(out.bytes === bytes, `encrypted ${String(out.bytes)} bytes, expected ${bytes}`);
  p.check(out.roundTrip === true, 'decryption did not give back the plaintext');
  p.check(out.decryptedSha256 === out.plaintextSha256, 'decrypted hash differs from plaintext hash');
  p.check(out.ciphertextSha256 !== out.plaintextSha256, 'ciphertext equals plaintext');
  const hex = (v: unknown, len: number) => typeof v === 'string' && new RegExp(`^[0-9a-f]{${len}}$`).test(v);
  if (!p.check(hex(out.keyHex, 32) && hex(out.ivHex, 32), 'keyHex/ivHex are not 16-byte hex strings')) return p.list;
  const plain = Buffer.from(String(out.plaintextHead), 'base64');
  const cipher = Buffer.from(String(out.ciphertextHead), 'base64');
  p.check(plain.length === Math.min(64, bytes) && cipher.length === plain.length, 'plaintextHead/ciphertextHead have the wrong length');
  const d = createDecipheriv('aes-128-ctr', Buffer.from(out.keyHex as string, 'hex'), Buffer.from(out.ivHex as string, 'hex'));
  const decrypted = Buffer.concat([d.update(cipher), d.final()]);
  p.check(decrypted.equals(plain), 'ciphertext is not AES-128-CTR of the plaintext under the returned key/IV');
  p.check(/^[a-z ]*$/.test(plain.toString('latin1')), 'plaintext is not the generated text');
  checkInputEcho(out, event, p);
  return p.list;
}

/** Verdict on an HS256 JWT, computed independently of the functions (same rules, other code). */
export function jwtVerdict(token: string, nowS: number, secret = AUTH_SECRET): { valid: boolean; reason: string } {
  const parts = token.split('.');
  if (parts.length !== 3) return { valid: false, reason: 'malformed' };
  let header: Json, payload: Json;
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Json;
    payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Json;
  } catch {
    return { valid: false, reason: 'malformed' };
  }
  if (header?.alg !== 'HS256') return { valid: false, reason: 'unsupported-alg' };
  const want = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const got = Buffer.from(parts[2]!, 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return { valid: false, reason: 'bad-signature' };
  if (typeof payload?.exp !== 'number' || payload.exp <= nowS) return { valid: false, reason: 'expired' };
  return { valid: true, reason: 'ok' };
}

/** auth: every verdict matches an independent check; the policy follows the event's token. */
export function validateAuth(output: unknown, event: Json): string[] {
  const p = new Problems();
  const out = asObject(output, p);
  if (!out) return p.list;
  const n = Math.floor(num(event, 'n', 8));
  const given = typeof event.token === 'string' ? event.token : undefined;
  const results = Array.isArray(out.results) ? (out.results as Json[]) : [];
  p.check(results.length === n + (given ? 1 : 0) && out.checked === results.length, `expected ${n + (given ? 1 : 0)} verdicts, got ${results.length}`);
  // Validation may run a little after the invocation: a token valid for an hour cannot flip meanwhile.
  const now = Math.floor(Date.now() / 1000);
  let wrong = 0;
  for (const r of results) {
    const v = jwtVerdict(String(r.token), now);
    if (v.valid !== r.valid || v.reason !== r.reason) wrong++;
  }
  p.check(wrong === 0, `${wrong} of ${results.length} token verdicts are wrong`);
  if (given) {
    p.check(results[0]?.token === given, 'first verdict is not for the event token');
    p.check(out.policy === (jwtVerdict(given, now).valid ? 'Allow' : 'Deny'), `policy ${String(out.policy)} does not match the event token`);
  }
  if (n >= 4) {
    const valid = results.filter((r) => r.valid === true).length;
    p.check(valid > 0 && valid < results.length, 'generated tokens should include both valid and invalid ones');
    p.check(out.valid === valid, 'valid count does not match the verdicts');
  }
  checkInputEcho(out, event, p);
  return p.list;
}
