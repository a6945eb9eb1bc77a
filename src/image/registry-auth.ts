/**
 * Registry authentication (distribution's token flow and HTTP Basic): a 401 carries
 * `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (ask the realm for a token, with Basic
 * credentials if there are any) or `Basic realm="…"` (send the credentials on every request).
 * Credentials are never logged nor put in an error message.
 */

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Scheme k="v",k2=v2` (one challenge; registries send one). */
export function parseChallenge(header: string): AuthChallenge | undefined {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]!))) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

export function basicHeader(c: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

/** `user:pass` (HIVELAB_REGISTRY_AUTH) or the two flags; undefined when none is given. */
export function credentialsFrom(user?: string, password?: string, env = process.env.HIVELAB_REGISTRY_AUTH): RegistryCredentials | undefined {
  if (user !== undefined || password !== undefined) {
    if (user === undefined || password === undefined) throw new Error('give both --registry-user and --registry-password (or HIVELAB_REGISTRY_AUTH=user:password)');
    return { username: user, password };
  }
  if (env) {
    const i = env.indexOf(':');
    if (i <= 0) throw new Error('HIVELAB_REGISTRY_AUTH must be user:password');
    return { username: env.slice(0, i), password: env.slice(i + 1) };
  }
  return undefined;
}

/** Asks a Bearer challenge's realm for a token; the error names the realm's status, never the credentials. */
export async function fetchToken(challenge: AuthChallenge, creds: RegistryCredentials | undefined, scope: string, timeoutMs: number): Promise<string> {
  const realm = challenge.params.realm;
  if (!realm) throw new Error('the registry asked for a Bearer token but named no realm');
  const url = new URL(realm);
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
  url.searchParams.set('scope', challenge.params.scope ?? scope);
  const res = await fetch(url, { headers: creds ? { authorization: basicHeader(creds) } : {}, signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) {
    await res.body?.cancel();
    throw Object.assign(new Error(`token endpoint ${url.origin}${url.pathname} refused ${creds ? `user "${creds.username}"` : 'an anonymous request'} (${res.status} ${res.statusText})`), { status: res.status });
  }
  const body = (await res.json()) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (!token) throw new Error(`token endpoint ${url.origin}${url.pathname} answered without a token`);
  return token;
}
