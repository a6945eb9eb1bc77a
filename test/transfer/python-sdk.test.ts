/** The Python SDK (stdlib only) speaks the same sidecar protocol: bytes, JSON and typed errors. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Harness, pattern } from './harness.js';

const h = new Harness();
beforeAll(() => h.start({ services: false, workers: 2 }));
afterAll(() => h.stop());

function py(script: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      '/usr/bin/python3',
      ['-c', script],
      { env: { ...process.env, ...env, PYTHONPATH: path.resolve('src/runtime/python') }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim())),
    );
  });
}

it('Python put → Node get and Node put → Python get, byte-for-byte; typed errors', async () => {
  const p = await h.instance(0, 'py-producer');
  const c = await h.instance(1, 'node-consumer');
  const ref = await py(
    `import hivelab_sdk as s\nsdk = s.sdk_for("inv1", None, "py")\nprint(sdk.put(bytes(range(256)) * 4096, retrievals=1))`,
    { HIVELAB_SIDECAR: p.socketPath },
  );
  const got = (await c.sdk.get(ref)) as Buffer;
  expect(got.length).toBe(256 * 4096);
  expect(got.equals(Buffer.concat(Array.from({ length: 4096 }, () => Buffer.from(Array.from({ length: 256 }, (_, i) => i)))))).toBe(true);

  const data = pattern(3 * 1024 * 1024 + 1, 5);
  const ref2 = await p.sdk.put(data, { retrievals: 1 });
  const json = await c.sdk.put({ hello: ['wörld', 1] });
  const out = await py(
    [
      'import hashlib, json, sys, hivelab_sdk as s',
      'sdk = s.sdk_for("inv2", None, "py")',
      `b = sdk.get(${JSON.stringify(ref2)})`,
      `j = s.resolve_event_refs({"$xdt": ${JSON.stringify(json)}})`,
      'try:',
      `    sdk.get(${JSON.stringify(ref2)})`,
      '    err = None',
      'except s.HivelabSdkError as e:',
      '    err = e.type',
      'print(json.dumps({"n": len(b), "sha": hashlib.sha256(b).hexdigest(), "j": j, "err": err}))',
    ].join('\n'),
    { HIVELAB_SIDECAR: c.socketPath },
  );
  const { createHash } = await import('node:crypto');
  expect(JSON.parse(out)).toEqual({ n: data.length, sha: createHash('sha256').update(data).digest('hex'), j: { hello: ['wörld', 1] }, err: 'XdtRefExhausted' });
});

it('a large Python put is offered on a socket of its own; the sidecar reads it and nothing is left behind', async () => {
  const p = await h.instance(0, 'py-offer');
  const c = await h.instance(1, 'node-offer-consumer');
  const fs = await import('node:fs/promises');
  const out = await py(
    [
      'import hashlib, json, os, hivelab_sdk as s',
      'data = os.urandom(5 * 1024 * 1024 + 7)',
      'sdk = s.sdk_for("inv3", None, "py")',
      // the offer itself: whoever connects first gets the bytes, then the socket is gone
      'o = s._UploadOffer(os.environ["HIVELAB_SIDECAR"], b"abc")',
      'import socket',
      'k = socket.socket(socket.AF_UNIX); k.connect(o._path); got = b""',
      'while True:',
      '    b = k.recv(65536)',
      '    if not b: break',
      '    got += b',
      'o.close()',
      'print(json.dumps({"ref": sdk.put(data, transfer="xdt"), "sha": hashlib.sha256(data).hexdigest(), "n": len(data), "offer": got.decode(), "left": os.path.exists(o._path)}))',
    ].join('\n'),
    { HIVELAB_SIDECAR: p.socketPath },
  );
  const r = JSON.parse(out) as { ref: string; sha: string; n: number; offer: string; left: boolean };
  expect(r.offer).toBe('abc');
  expect(r.left).toBe(false);
  const got = (await c.sdk.get(r.ref)) as Buffer;
  const { createHash } = await import('node:crypto');
  expect(got.length).toBe(r.n);
  expect(createHash('sha256').update(got).digest('hex')).toBe(r.sha);
  expect((await fs.readdir(h.dir)).filter((f) => f.startsWith('up-'))).toEqual([]);
});
