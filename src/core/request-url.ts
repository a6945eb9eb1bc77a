/**
 * Request targets come from untrusted callers (clients of the gateway, function code talking to its
 * sidecar). `new URL()` throws on targets such as `//` and `decodeURIComponent` on a lone `%`: both
 * must end as a 400 for that caller, never as an exception that escapes a request handler (in the
 * worker's sidecar that took down every instance on the worker).
 */

/** The request target as a URL, or undefined when it cannot be parsed. */
export function parseRequestTarget(target: string | undefined, base: string): URL | undefined {
  try {
    return new URL(target ?? '/', base);
  } catch {
    return undefined;
  }
}

/** A percent-decoded path segment, or undefined when its encoding is malformed (`%`, `%zz`, bad UTF-8). */
export function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
