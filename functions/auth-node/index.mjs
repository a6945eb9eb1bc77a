// vSwarm's auth: an API-gateway authorizer that checks bearer tokens. Here the tokens are JWTs signed
// with HMAC-SHA256 (HS256); the shared secret comes from the manifest's env (a benchmark, not a vault).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { pickInput, rng, sizeParam } from './inputmode.mjs';

const SECRET = process.env.AUTH_SECRET ?? 'hivelab-suite-secret';
// Generated tokens cycle through these so every batch of four exercises each verdict.
const KINDS = ['valid', 'expired', 'bad-signature', 'malformed'];

export async function handler(event, context) {
  const input = pickInput(event, context);
  const n = Math.floor(sizeParam(event, 'n', 8, 100_000));
  const now = Math.floor(Date.now() / 1000);
  const tokens = typeof event?.token === 'string' ? [event.token] : [];
  const random = rng(input.seed);
  for (let i = 0; i < n; i++) tokens.push(makeToken(KINDS[(i + input.seed) % KINDS.length], random, now));
  const results = tokens.map((token) => ({ token, ...verify(token, now) }));
  const first = results[0];
  return {
    policy: first?.valid ? 'Allow' : 'Deny',
    principalId: first?.valid ? first.sub : null,
    checked: results.length,
    valid: results.filter((r) => r.valid).length,
    results,
    input,
  };
}

/** Verifies an HS256 JWT: structure, algorithm, signature (constant time), then expiry. */
export function verify(token, now) {
  const parts = token.split('.');
  if (parts.length !== 3) return { valid: false, reason: 'malformed' };
  let header, payload;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return { valid: false, reason: 'malformed' };
  }
  if (header?.alg !== 'HS256') return { valid: false, reason: 'unsupported-alg' };
  const expected = createHmac('sha256', SECRET).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { valid: false, reason: 'bad-signature' };
  if (typeof payload?.exp !== 'number' || payload.exp <= now) return { valid: false, reason: 'expired', sub: payload?.sub };
  return { valid: true, reason: 'ok', sub: payload.sub };
}

function sign(payload, secret = SECRET) {
  const head = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

function makeToken(kind, random, now) {
  const sub = `user-${Math.floor(random() * 1e6)}`;
  const scope = ['read', 'write', 'admin'][Math.floor(random() * 3)];
  switch (kind) {
    case 'valid':
      return sign({ sub, scope, iat: now, exp: now + 3600 });
    case 'expired':
      return sign({ sub, scope, iat: now - 7200, exp: now - 3600 });
    case 'bad-signature':
      return sign({ sub, scope, iat: now, exp: now + 3600 }, `not-${SECRET}`);
    default:
      return `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.not-json!`;
  }
}
