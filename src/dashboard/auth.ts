import type { IncomingMessage, ServerResponse } from 'node:http';

export type Role = 'admin' | 'invoke';
export type CheckToken = (token: string) => Role | null;

export const COOKIE_NAME = 'hivelab_token';

/** The token a request presents: `Authorization: Bearer`, else the dashboard cookie. */
export function presentedToken(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  return readCookie(req.headers.cookie, COOKIE_NAME);
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Keeps the token in a cookie the page's scripts cannot read (HttpOnly) and that no other site can
 * make the browser send (SameSite=Strict), so a token given once in the URL never sits in history.
 */
export function setTokenCookie(res: ServerResponse, token: string): void {
  res.setHeader('set-cookie', `${COOKIE_NAME}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
}

export function clearTokenCookie(res: ServerResponse): void {
  res.setHeader('set-cookie', `${COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
}
