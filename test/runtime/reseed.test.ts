import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildRuntime, makeTempDir, removeDir } from '../sandbox/helpers.js';

/**
 * Simulates clones of one snapshot: each child process starts with a deterministic "DRBG" (every
 * generator hands out the same bytes in every process, as a cloned OpenSSL state and cloned V8
 * state would), then gets a restore seed. Clones must agree before the restore (or the simulation
 * is wrong) and must differ after restores with different seeds.
 */
let work: string;
let runtimeDir: string;

beforeAll(() => {
  work = makeTempDir('reseed');
  runtimeDir = buildRuntime(join(work, 'dist'));
});
afterAll(() => removeDir(work));

const NODE_CLONE = String.raw`
import crypto from 'node:crypto';
let n = 0;
const det = (len) => { const b = Buffer.alloc(len); for (let i = 0; i < len; i++) b[i] = (n++ * 31 + 7) & 255; return b; };
const region = (buf) => new Uint8Array(buf.buffer ?? buf, buf.byteOffset ?? 0, buf.byteLength);
crypto.randomBytes = (len, cb) => { const b = det(len); if (cb) { process.nextTick(cb, null, b); return; } return b; };
crypto.randomFillSync = (buf, off = 0, size = buf.byteLength - off) => { region(buf).set(det(size), off); return buf; }; // Buffer: offsets in bytes
crypto.randomFill = (buf, cb) => { region(buf).set(det(buf.byteLength)); process.nextTick(cb, null, buf); };
crypto.randomUUID = () => { const h = det(16).toString('hex'); return h.slice(0, 8) + '-' + h.slice(8, 12) + '-4' + h.slice(13, 16) + '-8' + h.slice(17, 20) + '-' + h.slice(20); };
crypto.randomInt = () => det(1)[0];
Object.defineProperty(crypto.webcrypto, 'getRandomValues', { value: (a) => { region(a).set(det(a.byteLength)); return a; }, writable: true, configurable: true });
Object.defineProperty(crypto.webcrypto, 'randomUUID', { value: () => crypto.randomUUID(), writable: true, configurable: true });

const { installReseedableRandom, reseedAll, wrapCryptoIfLoaded } = await import(process.argv[1] + '/node/reseed.cjs');
installReseedableRandom();
wrapCryptoIfLoaded(); // as the shim does after loading a handler that imported crypto
const esm = await import('node:crypto');
const sample = async () => ({
  math: [Math.random(), Math.random()],
  randomBytes: crypto.randomBytes(8).toString('hex'),
  esmRandomBytes: esm.randomBytes(8).toString('hex'),
  asyncRandomBytes: await new Promise((r) => crypto.randomBytes(8, (e, b) => r(b.toString('hex')))),
  fillSync: crypto.randomFillSync(Buffer.alloc(8)).toString('hex'),
  fillSyncRegion: crypto.randomFillSync(Buffer.alloc(8), 2, 4).toString('hex'),
  fill: await new Promise((r) => crypto.randomFill(Buffer.alloc(8), (e, b) => r(b.toString('hex')))),
  uuid: crypto.randomUUID(),
  webUuid: globalThis.crypto.randomUUID(),
  getRandomValues: Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString('hex'),
  webGetRandomValues: Buffer.from(globalThis.crypto.getRandomValues(new Uint32Array(2)).buffer).toString('hex'),
  randomInt: crypto.randomInt(0, 2 ** 40),
});
const before = await sample();
reseedAll(Buffer.from(process.argv[2], 'hex'));
const after = await sample();
console.log(JSON.stringify({ before, after }));
`;

const PY_CLONE = `
import os, random, sys
sys.path.insert(0, sys.argv[1])
import hivelab_shim as shim
os.urandom = lambda n: bytes(n)  # worst case: even the kernel's entropy is identical
random.seed(42)                  # the cloned Mersenne Twister state
before = [random.random(), random.getrandbits(64)]
shim.reseed(bytes.fromhex(sys.argv[2]))
after = [random.random(), random.getrandbits(64)]
print(repr((before, after)))
`;

function nodeClone(seed: string): { before: Record<string, unknown>; after: Record<string, unknown> } {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', NODE_CLONE, runtimeDir, seed], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin' },
  });
  return JSON.parse(out);
}

function pythonClone(seed: string): string {
  return execFileSync('/usr/bin/python3', ['-c', PY_CLONE, join(runtimeDir, 'python'), seed], { encoding: 'utf8' }).trim();
}

describe('reseeding clones of one snapshot', () => {
  test('node: every generator diverges after restores with different seeds', () => {
    const a = nodeClone('01'.repeat(32));
    const a2 = nodeClone('01'.repeat(32));
    const b = nodeClone('02'.repeat(32));
    // The simulated clones really are clones (except Math.random: the shim seeds it from
    // /dev/urandom at startup, which this simulation cannot clone; a real snapshot does).
    const { math: _ma, ...cloneA } = a.before;
    const { math: _mb, ...cloneB } = b.before;
    expect(cloneA).toEqual(cloneB);
    expect(a.after).toEqual(a2.after); // with all entropy cloned, the seed alone decides
    for (const key of Object.keys(a.after)) {
      expect(a.after[key], key).not.toEqual(b.after[key]);
    }
    // Only the filled region is touched by randomFillSync(buf, offset, size).
    expect((a.after.fillSyncRegion as string).slice(0, 4)).toBe('0000');
    expect((a.after.fillSyncRegion as string).slice(12)).toBe('0000');
    expect(a.after.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test('node: an instance to be snapshotted loads crypto before the dump; any other only when its handler does', () => {
    // a script file, not -e: node -e loads crypto itself
    const script = join(work, 'loads-crypto.cjs');
    writeFileSync(script, `require(process.argv[2] + '/node/reseed.cjs').wrapCryptoIfLoaded(process.argv[3] === 'true'); console.log(process.moduleLoadList.includes('NativeModule internal/crypto/random'))`);
    const loads = (forSnapshot: boolean) =>
      execFileSync(process.execPath, [script, runtimeDir, String(forSnapshot)], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin' } }).trim();
    expect(loads(false)).toBe('false'); // a booted instance does not pay for crypto it never uses
    expect(loads(true)).toBe('true');
    // its rehearsal of the reseed is undone: until a real restore, crypto's output passes through
    const rehearsal = join(work, 'rehearsal.cjs');
    writeFileSync(
      rehearsal,
      `const crypto = require('node:crypto');
      let n = 0;
      const det = (len) => { const b = Buffer.alloc(len); for (let i = 0; i < len; i++) b[i] = (n++ * 31 + 7) & 255; return b; };
      crypto.randomBytes = (len) => det(len);
      const r = require(process.argv[2] + '/node/reseed.cjs');
      r.wrapCryptoIfLoaded(true);
      const n0 = n;
      const got = crypto.randomBytes(8).toString('hex');
      n = n0;
      const plain = det(8).toString('hex');
      r.reseedAll(Buffer.alloc(32, 1));
      const n1 = n;
      const masked = crypto.randomBytes(8).toString('hex');
      n = n1;
      console.log(JSON.stringify({ passesThrough: got === plain, maskedAfterRestore: masked !== det(8).toString('hex') }));`,
    );
    const out = JSON.parse(execFileSync(process.execPath, [rehearsal, runtimeDir], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin' } }));
    expect(out).toEqual({ passesThrough: true, maskedAfterRestore: true });
  });

  test('python: random diverges after restores with different seeds', () => {
    const a = pythonClone('01'.repeat(32));
    const b = pythonClone('02'.repeat(32));
    const [beforeA, afterA] = JSON.parse(a.replace(/\(/g, '[').replace(/\)/g, ']'));
    const [beforeB, afterB] = JSON.parse(b.replace(/\(/g, '[').replace(/\)/g, ']'));
    expect(beforeA).toEqual(beforeB);
    expect(afterA).not.toEqual(afterB);
    expect(afterA[0]).not.toEqual(afterB[0]);
    expect(afterA[1]).not.toEqual(afterB[1]);
  });
});
