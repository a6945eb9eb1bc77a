/**
 * Which function a gRPC call is for. A vSwarm client addresses a Knative service by host name,
 * `<name>.<namespace>.<domain>` (e.g. `fibonacci.default.127.0.0.1.sslip.io:80`) or one of the
 * cluster-local forms (`<name>.<namespace>.svc.cluster.local`, `<name>.<namespace>`), and the name
 * is always the first label; Hivelab has one namespace, so the rest is not checked. A client that
 * dials an address (an IP literal, `localhost`) names the function with the `x-hivelab-function`
 * header instead, which wins over the authority.
 */
export const FUNCTION_HEADER = 'x-hivelab-function';

export type RouteResult = { name: string } | { error: string };

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** `host[:port]` or `[v6]:port` → host, lower-cased. */
export function hostOf(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) return a.slice(0, a.indexOf(']') + 1);
  const colon = a.lastIndexOf(':');
  return colon >= 0 ? a.slice(0, colon) : a;
}

function isAddress(host: string): boolean {
  return host.startsWith('[') || /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host === 'localhost';
}

export function functionForCall(authority: string | undefined, header: string | undefined): RouteResult {
  if (header !== undefined) {
    const name = header.trim();
    return LABEL.test(name) ? { name } : { error: `${FUNCTION_HEADER} ${JSON.stringify(header)} is not a function name` };
  }
  if (!authority) return { error: `no :authority and no ${FUNCTION_HEADER} header: cannot tell which function is called` };
  const host = hostOf(authority);
  if (isAddress(host)) {
    return { error: `:authority ${JSON.stringify(authority)} is an address, not <function>.<namespace>.<domain>; set the ${FUNCTION_HEADER} header` };
  }
  const first = host.split('.')[0]!;
  if (!LABEL.test(first)) return { error: `:authority ${JSON.stringify(authority)} does not start with a function name` };
  return { name: first };
}
