import type * as NodeCrypto from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import Module, { syncBuiltinESMExports } from 'node:module';

/**
 * Random state that survives a snapshot must be made to diverge after every restore, or all clones
 * of one snapshot hand out the same "random" numbers (same Math.random sequence, same UUIDs, same
 * keys). V8's Math.random cannot be reseeded and OpenSSL's DRBG is cloned together with the PID it
 * uses for fork detection, so:
 *   - Math.random is replaced at startup by xoshiro128** whose state we own and can reseed;
 *   - node:crypto's generators are wrapped so that, once an instance has been restored, their output
 *     is XORed with an AES-256-CTR keystream keyed by the restore seed (a clone with another seed
 *     gets another keystream); the randomUUID entropy cache and randomInt's cache are bypassed.
 * Before the first restore the wrappers pass through untouched (no cost on boot-started instances).
 *
 * Loading node:crypto costs ~3 ms of cold start, so the shim does not load it itself: the wrappers
 * go in when crypto is first required (CJS, via a Module._load hook, so even destructured
 * `const { randomBytes } = require('crypto')` gets them), right after the handler has loaded if it
 * pulled crypto in through ESM (named ESM imports of builtins are updated by
 * syncBuiltinESMExports), and at the latest on restore (a process that never loaded crypto before
 * its snapshot initialises OpenSSL fresh after the restore).
 * Not covered: randomness OpenSSL draws internally (generateKeyPair, DH/ECDH, TLS); OpenSSL reseeds
 * those on its own schedule.
 */

let crypto: typeof NodeCrypto;

// ---- Math.random: xoshiro128** (Blackman & Vigna), 128-bit state ----
const state = new Uint32Array(4);

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function nextUint32(): number {
  const s = state;
  const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
  const t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 11);
  return result;
}

/** Startup seeding from the kernel without loading node:crypto. */
function seedMathRandomFromKernel(): void {
  const fd = openSync('/dev/urandom', 'r');
  try {
    readSync(fd, state, 0, 16, null);
  } finally {
    closeSync(fd);
  }
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1;
}

function seedMathRandom(seed: Uint8Array): void {
  // Derive the state through SHA-256 so any seed length works and the state is never all zero
  // in practice (all-zero is the one fixed point of xoshiro).
  const digest = crypto.createHash('sha256').update('hivelab/math.random').update(seed).digest();
  for (let i = 0; i < 4; i++) state[i] = digest.readUInt32LE(i * 4);
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1;
}

function seededRandom(): number {
  // 53 random bits, like V8's own Math.random resolution.
  const hi = nextUint32() >>> 5;
  const lo = nextUint32() >>> 6;
  return (hi * 67108864 + lo) / 9007199254740992;
}

// ---- node:crypto ----
let keystream: NodeCrypto.Cipher | null = null;

/** XORs `len` bytes at `offset` of `target` with the post-restore keystream (no-op before a restore). */
function mask(target: ArrayBufferView | ArrayBuffer, offset = 0, len?: number): void {
  if (keystream === null) return;
  const bytes =
    target instanceof ArrayBuffer
      ? new Uint8Array(target, offset, len ?? target.byteLength - offset)
      : new Uint8Array(target.buffer, target.byteOffset + offset, len ?? target.byteLength - offset);
  if (bytes.byteLength === 0) return;
  bytes.set(keystream.update(bytes));
}

/** randomFill/randomFillSync take offset and size in elements of the typed array, not bytes. */
function fillRegion(buf: ArrayBufferView | ArrayBuffer, offset?: number, size?: number): [number, number] {
  const elementSize = (buf as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
  const byteOffset = (offset ?? 0) * elementSize;
  const byteLength = size === undefined ? buf.byteLength - byteOffset : size * elementSize;
  return [byteOffset, byteLength];
}

function uuidFromBytes(b: Buffer): string {
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

let installed = false;
let cryptoWrapped = false;
type ModuleLoad = (request: string, parent: unknown, isMain: boolean) => unknown;
const moduleInternals = Module as unknown as { _load: ModuleLoad };
let originalLoad: ModuleLoad | undefined;

/** Replaces Math.random and arranges for node:crypto to be wrapped; call before the handler is loaded. */
export function installReseedableRandom(): void {
  if (installed) return;
  installed = true;
  seedMathRandomFromKernel();
  Math.random = seededRandom;
  originalLoad = moduleInternals._load;
  moduleInternals._load = function load(this: unknown, request: string, parent: unknown, isMain: boolean) {
    if (!cryptoWrapped && (request === 'crypto' || request === 'node:crypto')) wrapCrypto();
    return originalLoad!.call(this, request, parent, isMain);
  };
}

/** Whether anything (node:crypto or globalThis.crypto) has loaded Node's random sources yet. */
function cryptoLoaded(): boolean {
  const list = (process as unknown as { moduleLoadList?: string[] }).moduleLoadList;
  return list === undefined || list.includes('NativeModule internal/crypto/random');
}

/**
 * Call once the handler has loaded: wraps crypto now if the handler pulled it in, or anyway in an
 * instance that is about to be snapshotted (`forSnapshot`): every clone reseeds through node:crypto,
 * so loading it once before the dump spares each restore loading it. Such an instance also
 * rehearses the reseed once and undoes it: its first run compiles V8's lazy functions of the hash,
 * cipher and random paths, which the snapshot then holds (the reseed of a helloworld-node clone
 * took 0.55-0.9 ms without the rehearsal, 0.22-0.31 ms with it, here).
 */
export function wrapCryptoIfLoaded(forSnapshot = false): void {
  if (!cryptoWrapped && (forSnapshot || cryptoLoaded())) wrapCrypto();
  if (forSnapshot) {
    reseedAll(crypto.randomBytes(32));
    keystream = null; // not restored yet: crypto passes through untouched again
    seedMathRandomFromKernel();
  }
}

function wrapCrypto(): void {
  if (cryptoWrapped) return;
  cryptoWrapped = true;
  if (originalLoad) moduleInternals._load = originalLoad; // the hook has done its job
  crypto = require('node:crypto') as typeof NodeCrypto;
  const c = crypto as unknown as Record<string, unknown>;
  const orig = {
    randomBytes: crypto.randomBytes,
    randomFillSync: crypto.randomFillSync,
    randomFill: crypto.randomFill as (...args: unknown[]) => void,
    randomUUID: crypto.randomUUID,
    randomInt: crypto.randomInt as (...args: unknown[]) => unknown,
  };

  c.randomBytes = function randomBytes(size: number, cb?: (err: Error | null, buf: Buffer) => void) {
    if (typeof cb === 'function') {
      return orig.randomBytes(size, (err, buf) => {
        if (!err) mask(buf);
        cb(err, buf);
      });
    }
    const buf = orig.randomBytes(size);
    mask(buf);
    return buf;
  };

  c.randomFillSync = function randomFillSync<T extends ArrayBufferView | ArrayBuffer>(buf: T, offset?: number, size?: number): T {
    orig.randomFillSync(buf as NodeJS.ArrayBufferView, offset, size);
    const [o, l] = fillRegion(buf, offset, size);
    mask(buf, o, l);
    return buf;
  };

  c.randomFill = function randomFill(buf: ArrayBufferView | ArrayBuffer, ...rest: unknown[]) {
    const cb = rest.pop();
    if (typeof cb !== 'function') return orig.randomFill(buf, ...rest, cb); // let node raise its own error
    const [offset, size] = rest as [number | undefined, number | undefined];
    return orig.randomFill(buf, ...rest, (err: Error | null, filled: typeof buf) => {
      if (!err) {
        const [o, l] = fillRegion(buf, offset, size);
        mask(buf, o, l);
      }
      (cb as (e: Error | null, b: typeof buf) => void)(err, filled);
    });
  };

  c.randomUUID = function randomUUID(options?: NodeCrypto.RandomUUIDOptions): string {
    // The entropy cache holds bytes drawn before the snapshot: bypass it once restored.
    if (keystream === null) return orig.randomUUID(options);
    return uuidFromBytes((c.randomBytes as (n: number) => Buffer)(16));
  };

  c.randomInt = function randomInt(...args: unknown[]) {
    if (keystream === null) return orig.randomInt(...args);
    const cb = typeof args[args.length - 1] === 'function' ? (args.pop() as (e: Error | null, n?: number) => void) : undefined;
    const [min, max] = args.length >= 2 ? [args[0], args[1]] : [0, args[0]];
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || (max as number) <= (min as number) || (max as number) - (min as number) > 2 ** 48) {
      return orig.randomInt(...args, ...(cb ? [cb] : [])); // node produces the proper validation error
    }
    const range = (max as number) - (min as number);
    const limit = 2 ** 48 - (2 ** 48 % range); // rejection sampling: no modulo bias
    let x: number;
    do x = (c.randomBytes as (n: number) => Buffer)(6).readUIntBE(0, 6);
    while (x >= limit);
    const value = (min as number) + (x % range);
    if (cb) {
      process.nextTick(cb, null, value);
      return undefined;
    }
    return value;
  };

  const wrapGetRandomValues = (original: (a: never) => unknown, self: object) =>
    function getRandomValues<T extends ArrayBufferView | null>(array: T): T {
      original.call(self, array as never);
      if (array) mask(array);
      return array;
    };

  // crypto.getRandomValues is a non-configurable getter whose function forwards to
  // webcrypto.getRandomValues (checked by the tests), so wrapping WebCrypto covers both.
  const web = crypto.webcrypto as unknown as { getRandomValues: (a: never) => unknown; randomUUID: () => string };
  const webGetRandomValues = web.getRandomValues;
  const webRandomUUID = web.randomUUID;
  Object.defineProperty(web, 'getRandomValues', {
    value: wrapGetRandomValues(webGetRandomValues, web),
    writable: true,
    configurable: true,
  });
  Object.defineProperty(web, 'randomUUID', {
    value: function randomUUID(): string {
      if (keystream === null) return webRandomUUID.call(web);
      return uuidFromBytes((c.randomBytes as (n: number) => Buffer)(16));
    },
    writable: true,
    configurable: true,
  });
  const globalCrypto = (globalThis as { crypto?: object }).crypto;
  if (globalCrypto && globalCrypto !== web) {
    const g = globalCrypto as { getRandomValues: (a: never) => unknown };
    Object.defineProperty(g, 'getRandomValues', { value: wrapGetRandomValues(g.getRandomValues, g), writable: true, configurable: true });
    Object.defineProperty(g, 'randomUUID', { value: (web as { randomUUID: () => string }).randomUUID, writable: true, configurable: true });
  }

  // ESM `import { randomBytes } from 'node:crypto'` binds to the builtin's export snapshot.
  syncBuiltinESMExports();
}

/** Called after a restore: gives this clone its own Math.random sequence and crypto keystream. */
export function reseedAll(seed: Buffer): void {
  if (seed.length < 16) throw new Error(`restore seed too short: ${seed.length} bytes, need at least 16`);
  wrapCrypto();
  // Mix in fresh kernel entropy too (getrandom is not part of the snapshot): two restores that were
  // (wrongly) given the same seed still diverge.
  const fresh = crypto.randomBytes(32);
  seedMathRandom(Buffer.concat([seed, fresh]));
  const key = crypto.createHash('sha256').update('hivelab/crypto-key').update(seed).update(fresh).digest();
  const iv = crypto.createHash('sha256').update('hivelab/crypto-iv').update(seed).digest().subarray(0, 16);
  keystream = crypto.createCipheriv('aes-256-ctr', key, iv);
}
