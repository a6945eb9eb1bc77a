import { readFile, mkdir, chmod } from 'node:fs/promises';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../core/atomic-write.js';

/** `admin` may deploy and inspect; `invoke` may only run functions. */
export interface Tokens {
  admin: string;
  invoke: string;
}

export type Role = 'admin' | 'invoke';

/** Reads the tokens, creating them (mode 0600) at first start. */
export async function loadOrCreateTokens(path: string): Promise<Tokens> {
  try {
    return parseTokens(await readFile(path, 'utf8'), path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const tokens: Tokens = { admin: randomBytes(24).toString('base64url'), invoke: randomBytes(24).toString('base64url') };
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, JSON.stringify(tokens, null, 2) + '\n', 0o600);
  await chmod(path, 0o600);
  return tokens;
}

export async function readTokens(path: string): Promise<Tokens> {
  return parseTokens(await readFile(path, 'utf8'), path);
}

function parseTokens(text: string, path: string): Tokens {
  const raw = JSON.parse(text) as Partial<Tokens>;
  if (typeof raw.admin !== 'string' || typeof raw.invoke !== 'string' || !raw.admin || !raw.invoke) {
    throw new Error(`${path}: expected {"admin": "...", "invoke": "..."}`);
  }
  return { admin: raw.admin, invoke: raw.invoke };
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Which role a presented token grants, or null; constant-time so tokens cannot be guessed by timing. */
export function roleOf(tokens: Tokens, presented: string | undefined): Role | null {
  if (!presented) return null;
  if (same(presented, tokens.admin)) return 'admin';
  if (same(presented, tokens.invoke)) return 'invoke';
  return null;
}

/** Extracts the token from `Authorization: Bearer <token>`. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}
