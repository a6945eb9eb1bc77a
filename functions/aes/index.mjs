// FunctionBench's pyaes counterpart in Node: encrypts then decrypts N KB of text with AES-128-CTR and
// returns proof of the round trip (hashes, plus key, IV and the first bytes so a caller can re-check).
import { createCipheriv, createHash } from 'node:crypto';
import { ctr } from './aes128.mjs';
import { pickInput, rng, sizeParam } from './inputmode.mjs';

const WORDS = ['serverless', 'snapshot', 'cold', 'warm', 'instance', 'memory', 'page', 'fault', 'record', 'prefetch', 'latency', 'tail', 'function', 'worker', 'queue', 'proxy'];

export async function handler(event, context) {
  const input = pickInput(event, context);
  const kb = sizeParam(event, 'kb', 16, 64 * 1024);
  const impl = event?.impl ?? 'js';
  if (impl !== 'js' && impl !== 'node:crypto') throw new Error('impl must be "js" or "node:crypto"');
  const plaintext = makeText(Math.round(kb * 1024), input.seed);
  const material = createHash('sha256').update(`aes-key:${input.seed}`).digest();
  const key = material.subarray(0, 16);
  const iv = material.subarray(16, 32);
  const run = impl === 'js' ? (data) => ctr(data, key, iv) : (data) => nativeCtr(data, key, iv);
  const ciphertext = run(plaintext);
  const decrypted = run(ciphertext);
  const sha = (b) => createHash('sha256').update(b).digest('hex');
  return {
    kb,
    bytes: plaintext.length,
    impl,
    keyHex: key.toString('hex'),
    ivHex: iv.toString('hex'),
    plaintextSha256: sha(plaintext),
    ciphertextSha256: sha(ciphertext),
    decryptedSha256: sha(decrypted),
    roundTrip: Buffer.compare(Buffer.from(decrypted), plaintext) === 0,
    plaintextHead: plaintext.subarray(0, 64).toString('base64'),
    ciphertextHead: Buffer.from(ciphertext.subarray(0, 64)).toString('base64'),
    input,
  };
}

function nativeCtr(data, key, iv) {
  const c = createCipheriv('aes-128-ctr', key, iv);
  return Buffer.concat([c.update(data), c.final()]);
}

/** Seeded pseudo-English text of exactly `bytes` bytes. */
function makeText(bytes, seed) {
  const random = rng(seed);
  const parts = [];
  let len = 0;
  while (len <= bytes) { // len counts a space after every word, the joined text one fewer
    const w = WORDS[Math.floor(random() * WORDS.length)];
    parts.push(w);
    len += w.length + 1;
  }
  return Buffer.from(parts.join(' ')).subarray(0, bytes);
}
