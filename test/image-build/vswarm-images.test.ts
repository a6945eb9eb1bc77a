import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, DEFAULT_BASE_CACHE, type BuildResult } from '../../src/image-build/build.js';
import { ociRuntimeUnavailable, runImage } from '../helpers/oci-runtime.js';

/**
 * vSwarm's functions (examples/vswarm: Python on Debian's python3-grpcio, Node on @grpc/grpc-js)
 * built as images by `hivelab build` — the Debian packages found from their imports, the npm
 * packages copied from node_modules — run under runc with their `command` as the entrypoint, and
 * called with a stock gRPC client (@grpc/grpc-js and vSwarm-proto's definitions) inside the
 * container's network namespace, on vSwarm's port 50051.
 */

const why = await ociRuntimeUnavailable('runc');
const VSWARM = resolve(import.meta.dirname, '../../examples/vswarm');
const PROTOS = resolve(import.meta.dirname, '../../protos/vswarm/proto');

/** A script for `inNetns`: waits for 127.0.0.1:50051, makes one unary call, prints the reply as JSON. */
function callScript(pkg: string, service: string, method: string, request: unknown): string {
  return `
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
const deadline = Date.now() + 30000;
for (;;) {
  const ok = await new Promise((r) => { const s = net.connect(50051, '127.0.0.1'); s.once('connect', () => { s.destroy(); r(true); }); s.once('error', () => r(false)); });
  if (ok) break;
  if (Date.now() > deadline) { console.error('nothing listens on 50051'); process.exit(3); }
  await new Promise((r) => setTimeout(r, 100));
}
const def = grpc.loadPackageDefinition(loader.loadSync(${JSON.stringify(join(PROTOS, pkg, `${pkg}.proto`))}, { keepCase: true }));
const Client = def[${JSON.stringify(pkg)}][${JSON.stringify(service)}];
const c = new Client('127.0.0.1:50051', grpc.credentials.createInsecure());
c[${JSON.stringify(method)}](${JSON.stringify(request)}, { deadline: Date.now() + 20000 }, (err, reply) => {
  console.log(JSON.stringify(err ? { error: err.details ?? err.message, code: err.code } : { reply }));
  c.close();
});
`;
}

const CASES = [
  { fn: 'fibonacci-python', pkg: 'fibonacci', service: 'Greeter', method: 'SayHello', request: { name: '10' }, expect: /^fn: Fib: y = fib\(x\) \| x: 10 y: 55 \| runtime: python$/ },
  { fn: 'aes-python', pkg: 'aes', service: 'Aes', method: 'ShowEncryption', request: { plaintext_message: 'A unique message' }, expect: /^fn: AES \| plaintext: A unique message \| ciphertext: \S+ \| runtime: Python$/ },
  { fn: 'auth-python', pkg: 'auth', service: 'Greeter', method: 'SayHello', request: { name: 'deny' }, expect: /^fn: Auth \| token: deny \| resp: \{'principalId': .* \| runtime: python$/ },
  { fn: 'fibonacci-nodejs', pkg: 'fibonacci', service: 'Greeter', method: 'SayHello', request: { name: '10' }, expect: /^fn: Fib: y = fib\(x\) \| x: 10 y: 55 \| runtime: NodeJS$/ },
  { fn: 'auth-nodejs', pkg: 'auth', service: 'Greeter', method: 'SayHello', request: { name: 'allow' }, expect: /^fn: Auth \| token: allow \| resp: [\s\S]*"Effect": "Allow"[\s\S]*runtime: nodejs$/ },
];

describe.skipIf(why !== null)("vSwarm's functions as images under runc", () => {
  let dir: string;
  const built: Record<string, BuildResult> = {};
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hivelab-vswarm-images-'));
    for (const c of CASES) {
      // One Python base for the three (aes needs python3-pyaes): one mmdebstrap run, not two.
      const packages = c.fn.endsWith('-python') ? ['python3-pyaes'] : [];
      built[c.fn] = await buildImage({ dir: join(VSWARM, c.fn), out: join(dir, `${c.fn}.tar`), baseCache: DEFAULT_BASE_CACHE, packages });
    }
  }, 1_200_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the images hold what the servers need, and expose 50051', () => {
    for (const c of CASES) {
      const r = built[c.fn]!;
      expect(r.config.config.Entrypoint[0]).toBe(c.fn.endsWith('-python') ? '/usr/bin/python3' : '/usr/bin/node');
      expect(Object.keys(r.config.config.ExposedPorts)).toEqual(['50051/tcp']);
      if (c.fn.endsWith('-python')) expect(r.base.packages).toEqual(['python3', 'python3-grpcio', 'python3-protobuf', 'python3-pyaes']);
      else expect(r.layers.some((l) => l.what.startsWith('npm packages for @grpc/grpc-js, @grpc/proto-loader, yargs'))).toBe(true);
    }
  });

  for (const c of CASES) {
    it(`${c.fn}: ${c.pkg}.${c.service}/${c.method} answers a stock gRPC client`, async () => {
      const ctr = await runImage(built[c.fn]!.out);
      try {
        const out = JSON.parse(await ctr.inNetns(callScript(c.pkg, c.service, c.method, c.request))) as { reply?: Record<string, string>; error?: string };
        expect(out.error, await ctr.log()).toBeUndefined();
        const text = Object.values(out.reply!)[0]!;
        expect(text).toMatch(c.expect);
      } finally {
        await ctr.stop();
      }
    }, 180_000);
  }
});
