import type { ImageOrigin } from '../manifest/schema.js';
import { ImageError } from './image-source.js';
import type { ImageRecord, ImageStore } from './store.js';

/**
 * The image config as a function's settings (docs/IMAGES.md has the table):
 *   Entrypoint + Cmd → `command` (the instance's program; Knative runs the same);
 *   Env              → `image.env` (the program's environment before the manifest's `env`);
 *   WorkingDir       → `image.workingDir` (the program's cwd; default `/`);
 *   User             → looked up in the image's /etc/passwd for HOME; the process itself always runs
 *                      as the function's own unprivileged uid (the sandbox's rule), and files the
 *                      image gives to a non-root owner belong to that uid in the assembled root;
 *   ExposedPorts     → the first tcp port becomes `port` ($PORT), unless the settings give one.
 */

export interface ImageSettings {
  command: string[];
  port?: number;
  /** How to run it, from the image's own label (`hivelab build` writes it): below --manifest and flags. */
  settings: Record<string, unknown>;
  image: { id: string; ref: string; digest?: string; origin?: ImageOrigin; workingDir: string; env: Record<string, string>; user?: string };
}

/** `KEY=VALUE` strings as a record (a bare `KEY` means empty, as Docker reads it). */
export function envRecord(env: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of env ?? []) {
    const i = kv.indexOf('=');
    if (i === 0) continue;
    if (i === -1) out[kv] = '';
    else out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** The first tcp port of ExposedPorts (`8080/tcp`, or a bare `8080`, which means tcp). */
export function firstTcpPort(exposed: Record<string, unknown> | undefined): number | undefined {
  for (const key of Object.keys(exposed ?? {})) {
    const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(key);
    if (m && (m[2] ?? 'tcp') === 'tcp') {
      const n = Number(m[1]);
      if (n >= 1 && n <= 65535) return n;
    }
  }
  return undefined;
}

interface PasswdEntry {
  name: string;
  uid: number;
  home: string;
}

export function parsePasswd(text: string): PasswdEntry[] {
  return text
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 7 && /^\d+$/.test(f[2]!))
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), home: f[5]! }));
}

/** The passwd entry of the image's User (`name`, `uid`, either with `:group`); an unknown name is an error, as in Docker. */
export function lookupUser(user: string, passwd: PasswdEntry[], ref: string): PasswdEntry | undefined {
  const who = user.split(':')[0]!;
  if (who === '') return passwd.find((e) => e.uid === 0);
  if (/^\d+$/.test(who)) return passwd.find((e) => e.uid === Number(who));
  const e = passwd.find((p) => p.name === who);
  if (!e) throw new ImageError(`${ref}: the image's User "${who}" is not in its /etc/passwd`);
  return e;
}

export async function imageSettings(store: ImageStore, rec: ImageRecord): Promise<ImageSettings> {
  const c = rec.config.config ?? {};
  const command = [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])];
  if (command.length === 0) throw new ImageError(`${rec.ref}: the image config has neither Entrypoint nor Cmd: nothing to run`);
  const env = envRecord(c.Env);
  const user = c.User ?? '';
  const passwdBytes = await store.readFile(rec, 'etc/passwd');
  const entry = lookupUser(user, passwdBytes ? parsePasswd(passwdBytes.toString('utf8')) : [], rec.ref);
  // Docker's rule: HOME from the user's passwd entry unless the image sets it, else /root for root, else /
  env.HOME ??= entry?.home || (user === '' || user.startsWith('0') || user.startsWith('root') ? '/root' : '/');
  delete env.PORT; // the platform sets PORT (Knative's contract)
  const port = firstTcpPort(c.ExposedPorts);
  const workingDir = c.WorkingDir && c.WorkingDir.startsWith('/') ? c.WorkingDir : '/';
  return {
    command,
    ...(port !== undefined ? { port } : {}),
    settings: labelSettings(c.Labels, rec.ref),
    image: {
      id: rec.id,
      ref: rec.ref,
      ...(rec.manifestDigest ? { digest: rec.manifestDigest } : {}),
      ...(rec.origin ? { origin: rec.origin } : {}),
      workingDir,
      env,
      ...(user ? { user } : {}),
    },
  };
}

/** The label `hivelab build` puts the function's function.json in. */
export const MANIFEST_LABEL = 'dev.hivelab.function.manifest';
/** What of it says how to run the image (the image itself decides what runs: command, runtime, …). */
const RUN_SETTINGS = ['name', 'protocol', 'memoryMB', 'timeoutMs', 'concurrency', 'scaling', 'coldStart', 'transfer', 'event'] as const;

/**
 * Pure: the run settings of an image built by `hivelab build`, from its manifest label. Untrusted
 * like the rest of the image: only the fields above are taken, and the deploy validates them as it
 * validates any manifest (limits included). A label that is not a JSON object is an error naming it.
 */
export function labelSettings(labels: Record<string, string> | null | undefined, ref: string): Record<string, unknown> {
  const text = labels?.[MANIFEST_LABEL];
  if (text === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ImageError(`${ref}: label ${MANIFEST_LABEL} is not JSON`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ImageError(`${ref}: label ${MANIFEST_LABEL} must hold a JSON object`);
  const out: Record<string, unknown> = {};
  for (const k of RUN_SETTINGS) if ((parsed as Record<string, unknown>)[k] !== undefined) out[k] = (parsed as Record<string, unknown>)[k];
  return out;
}
