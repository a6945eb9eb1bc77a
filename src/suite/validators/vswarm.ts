import { createCipheriv } from 'node:crypto';
import { fibonacci } from './basic.js';
import { Problems, asObject, type Json } from './util.js';

/**
 * vSwarm's gRPC functions (examples/vswarm): each answers one string field of its reply message,
 * which the suite decodes from protobuf (src/grpc/unary.ts) before these checks. The string is
 * parsed and what it claims is recomputed: the Fibonacci number, the AES ciphertext under vSwarm's
 * default key, the policy the token asks for.
 */

/** The reply's string field, or a problem saying the reply has none. */
function field(output: unknown, name: string, p: Problems): string | undefined {
  const out = asObject(output, p);
  if (!out) return undefined;
  const v = out[name];
  return p.check(typeof v === 'string' && v.length > 0, `the reply has no "${name}" (got ${JSON.stringify(out).slice(0, 200)})`) ? (v as string) : undefined;
}

/** helloworld.Greeter/SayHello (vSwarm-proto's helloworld): `Hello, <name>`. */
export function validateHelloworldGrpc(output: unknown, event: Json): string[] {
  const p = new Problems();
  const message = field(output, 'message', p);
  if (message === undefined) return p.list;
  const name = typeof event.name === 'string' ? event.name : '';
  p.check(message === `Hello, ${name}`, `reply ${JSON.stringify(message)}, expected ${JSON.stringify(`Hello, ${name}`)}`);
  return p.list;
}

/** fibonacci.Greeter/SayHello: `fn: Fib: y = fib(x) | x: <n> y: <fib(n)> | runtime: python|NodeJS`, y recomputed. */
export function validateVswarmFibonacci(output: unknown, event: Json): string[] {
  const p = new Problems();
  const message = field(output, 'message', p);
  if (message === undefined) return p.list;
  const m = /^fn: Fib: y = fib\(x\) \| x: (-?\d+) y: (\d+) \| runtime: (python|NodeJS)$/.exec(message);
  if (!p.check(m !== null, `reply is not vSwarm's fibonacci answer: ${JSON.stringify(message.slice(0, 200))}`)) return p.list;
  const x = Number(m![1]);
  const asked = Number.parseInt(String(event.name), 10);
  p.check(x === asked, `x: ${x}, but the request asked for ${JSON.stringify(event.name)}`);
  if (x >= 0) {
    const y = fibonacci(x).toString();
    p.check(m![2] === y, `fib(${x}) is wrong: got ${m![2]!.slice(0, 40)}, expected ${y.slice(0, 40)}`);
  }
  return p.list;
}

/** vSwarm aes's default key (`--key`, 32 characters: AES-256 with their ASCII codes) and plaintext. */
export const VSWARM_AES_KEY = '6368616e676520746869732070617373';
export const VSWARM_AES_DEFAULT_PLAINTEXT = 'defaultplaintext';

/** Python's `repr()` of a bytes object (`b'…'` or `b"…"`) back to the bytes; undefined when it is not one. */
export function parsePythonBytes(literal: string): Buffer | undefined {
  const m = /^b(['"])([\s\S]*)\1$/.exec(literal);
  if (!m) return undefined;
  const body = m[2]!;
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      const code = c.charCodeAt(0);
      if (code > 0x7e || code < 0x20) return undefined; // repr escapes everything else
      out.push(code);
      continue;
    }
    const e = body[++i];
    if (e === 'x') {
      const hex = body.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/i.test(hex)) return undefined;
      out.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (e === 'n') out.push(0x0a);
    else if (e === 'r') out.push(0x0d);
    else if (e === 't') out.push(0x09);
    else if (e === '\\' || e === "'" || e === '"') out.push(e.charCodeAt(0));
    else return undefined;
  }
  return Buffer.from(out);
}

/** What vSwarm's aes encrypts: pyaes AES-CTR under the key's ASCII bytes, counter starting at 0. */
export function vswarmAesCiphertext(plaintext: string, key = VSWARM_AES_KEY): Buffer {
  const c = createCipheriv(`aes-${key.length * 8}-ctr`, Buffer.from(key, 'latin1'), Buffer.alloc(16));
  return Buffer.concat([c.update(Buffer.from(plaintext, 'latin1')), c.final()]);
}

/** aes.Aes/ShowEncryption: `fn: AES | plaintext: <p> | ciphertext: <repr of bytes> | runtime: Python`, re-encrypted here. */
export function validateVswarmAes(output: unknown, event: Json): string[] {
  const p = new Problems();
  const info = field(output, 'encryption_info', p);
  if (info === undefined) return p.list;
  const m = /^fn: AES \| plaintext: ([\s\S]*) \| ciphertext: (b[\s\S]*) \| runtime: Python$/.exec(info);
  if (!p.check(m !== null, `reply is not vSwarm's aes answer: ${JSON.stringify(info.slice(0, 200))}`)) return p.list;
  const asked = typeof event.plaintext_message === 'string' ? event.plaintext_message : '';
  const plaintext = asked === '' || asked === 'world' ? VSWARM_AES_DEFAULT_PLAINTEXT : asked;
  p.check(m![1] === plaintext, `plaintext ${JSON.stringify(m![1])}, expected ${JSON.stringify(plaintext)}`);
  const got = parsePythonBytes(m![2]!);
  if (!p.check(got !== undefined, `ciphertext ${m![2]!.slice(0, 60)} is not a Python bytes literal`)) return p.list;
  const want = vswarmAesCiphertext(plaintext);
  p.check(got!.equals(want), `ciphertext is not AES-${VSWARM_AES_KEY.length * 8}-CTR of the plaintext under vSwarm's key (got ${got!.toString('hex').slice(0, 32)}, expected ${want.toString('hex').slice(0, 32)})`);
  return p.list;
}

/**
 * auth.Greeter/SayHello: the token (`name`) decides the policy. Node's answer is the policy as JSON
 * (its Effect is checked); Python's prints the policy document as an object address, so only the
 * principal and the context are seen, and any other token answers a bare `Unauthorized` (vSwarm's
 * `elif 'unauthorized':` is always true).
 */
export function validateVswarmAuth(output: unknown, event: Json): string[] {
  const p = new Problems();
  const message = field(output, 'message', p);
  if (message === undefined) return p.list;
  const token = typeof event.name === 'string' ? event.name : '';
  if (message === 'Unauthorized') {
    p.check(!token.includes('allow') && !token.includes('deny'), `token ${JSON.stringify(token)} was answered "Unauthorized"`);
    return p.list;
  }
  const m = /^fn: Auth \| token: ([\s\S]*?) \| resp: ([\s\S]*) \| runtime: (python|nodejs)$/.exec(message);
  if (!p.check(m !== null, `reply is not vSwarm's auth answer: ${JSON.stringify(message.slice(0, 200))}`)) return p.list;
  const [, echoed, resp, runtime] = m!;
  p.check(echoed === token, `token ${JSON.stringify(echoed)} in the reply, ${JSON.stringify(token)} sent`);
  if (runtime === 'nodejs') {
    const effect = token === 'allow' ? 'Allow' : token === 'deny' ? 'Deny' : undefined;
    if (effect === undefined) {
      const want = token === 'unauthorized' ? 'Unauthorized' : 'Error: Invalid token';
      p.check(resp === want, `resp ${JSON.stringify(resp!.slice(0, 80))}, expected ${JSON.stringify(want)}`);
      return p.list;
    }
    let policy: { principalId?: unknown; policyDocument?: { Statement?: Array<{ Effect?: unknown; Action?: unknown }> } } | undefined;
    try {
      policy = JSON.parse(resp!) as typeof policy;
    } catch {
      p.check(false, `resp is not JSON: ${JSON.stringify(resp!.slice(0, 80))}`);
      return p.list;
    }
    const statement = policy?.policyDocument?.Statement?.[0];
    p.check(policy?.principalId === 'user', `principalId ${JSON.stringify(policy?.principalId)}, expected "user"`);
    p.check(statement?.Effect === effect, `policy Effect ${JSON.stringify(statement?.Effect)} for token ${JSON.stringify(token)}, expected ${effect}`);
    p.check(statement?.Action === 'execute-api:Invoke', `policy Action ${JSON.stringify(statement?.Action)}`);
    return p.list;
  }
  p.check(token.includes('allow') || token.includes('deny'), `token ${JSON.stringify(token)} got a policy; vSwarm's Python auth answers it "Unauthorized"`);
  p.check(resp!.startsWith("{'principalId': 'user', 'policyDocument': "), `resp does not name principal "user" with a policy: ${JSON.stringify(resp!.slice(0, 80))}`);
  p.check(resp!.endsWith("'context': {'stringKey': 'stringval', 'numberKey': 123, 'booleanKey': True}}"), `resp lacks vSwarm's context: ${JSON.stringify(resp!.slice(-80))}`);
  return p.list;
}
