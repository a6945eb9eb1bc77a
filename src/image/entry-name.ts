import { posix } from 'node:path';

/**
 * Names inside a layer are untrusted: `../`, absolute names and links pointing out must never place
 * or reach a file outside the folder being filled.
 */

/** A layer (or archive) that tries to reach outside its folder, or a file it may not hold. */
export class HostileLayerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostileLayerError';
  }
}

/**
 * The entry's path as clean relative components, or null for the root itself (`./`). Refuses
 * absolute names and any `..` component (not merely those that would climb out: no honest layer
 * writer emits one, so refusing is simpler than proving containment).
 */
export function entryComponents(name: string, what = 'entry'): string[] | null {
  if (name.includes('\0')) throw new HostileLayerError(`${what} name contains a NUL byte`);
  if (name.startsWith('/')) throw new HostileLayerError(`${what} ${JSON.stringify(name)} is an absolute path`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new HostileLayerError(`${what} ${JSON.stringify(name)} contains ".."`);
  return parts.length === 0 ? null : parts;
}

/** Resolves a symlink target found inside an archive, relative to the link's folder; null if it leaves. */
export function resolveInside(linkDir: string, target: string): string | null {
  if (target.startsWith('/')) return null;
  const joined = posix.normalize(posix.join(linkDir, target));
  return joined === '..' || joined.startsWith('../') ? null : joined.replace(/^\.\/?/, '');
}
