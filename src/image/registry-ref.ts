import { ImageError } from './image-source.js';
import { DIGEST } from './digest.js';

/**
 * A reference to an image in a registry (distribution API v2): `[http://|https://]HOST[:PORT]/NAME[:TAG][@DIGEST]`.
 * The host is required (there is no default registry: this platform pulls from registries it is
 * told about); plain HTTP only with `http://` or the `insecure` flag.
 */

export interface RegistryRef {
  /** `http:` or `https:` */
  scheme: 'http' | 'https';
  host: string;
  /** The repository, e.g. `library/hello`. */
  name: string;
  /** A tag, or a digest (`sha256:…`). */
  reference: string;
  /** As written, for messages. */
  display: string;
}

const NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** True when `ref` reads as a registry reference (a host with a dot, a port, or `localhost`, then a path). */
export function looksLikeRegistryRef(ref: string): boolean {
  if (/^https?:\/\//.test(ref)) return true;
  const slash = ref.indexOf('/');
  if (slash <= 0) return false;
  const host = ref.slice(0, slash);
  if (host.startsWith('.') || host.startsWith('~')) return false; // ./x.tar, ../x.tar, ~/x.tar: paths
  return host === 'localhost' || host.includes('.') || host.includes(':') || host.startsWith('[');
}

export function parseRegistryRef(ref: string, insecure = false): RegistryRef {
  let rest = ref;
  let scheme: 'http' | 'https' = insecure ? 'http' : 'https';
  const m = /^(https?):\/\//.exec(rest);
  if (m) {
    scheme = m[1] as 'http' | 'https';
    rest = rest.slice(m[0].length);
  }
  const slash = rest.indexOf('/');
  if (slash <= 0) throw new ImageError(`${ref}: a registry reference needs HOST[:PORT]/NAME[:TAG]`);
  const host = rest.slice(0, slash);
  let path = rest.slice(slash + 1);
  let reference = 'latest';
  const at = path.indexOf('@');
  if (at !== -1) {
    reference = path.slice(at + 1);
    path = path.slice(0, at);
    if (!DIGEST.test(reference)) throw new ImageError(`${ref}: ${reference} is not a sha256 digest`);
  } else {
    const colon = path.lastIndexOf(':');
    if (colon !== -1) {
      reference = path.slice(colon + 1);
      path = path.slice(0, colon);
      if (!TAG.test(reference)) throw new ImageError(`${ref}: "${reference}" is not a valid tag`);
    }
  }
  if (!NAME.test(path)) throw new ImageError(`${ref}: "${path}" is not a valid repository name (lower-case letters, digits, separators)`);
  return { scheme, host, name: path, reference, display: ref };
}
