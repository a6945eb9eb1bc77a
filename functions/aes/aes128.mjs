// AES-128 in plain JavaScript (FIPS-197), so the function's cost is interpreted/JIT-compiled code
// like FunctionBench's pyaes, not a call into OpenSSL. Only encryption of blocks is needed: CTR mode.

const SBOX = new Uint8Array(256);
const MUL2 = new Uint8Array(256);
const MUL3 = new Uint8Array(256);

// Build the S-box from its definition (multiplicative inverse in GF(2^8) + affine map) rather than a
// 256-entry literal nobody can review.
(() => {
  let p = 1, q = 1;
  do {
    p = p ^ ((p << 1) & 0xff) ^ (p & 0x80 ? 0x1b : 0); // p *= 3
    q ^= q << 1; q ^= q << 2; q ^= q << 4; q &= 0xff; if (q & 0x80) q ^= 0x09; // q /= 3
    const x = q ^ rotl8(q, 1) ^ rotl8(q, 2) ^ rotl8(q, 3) ^ rotl8(q, 4);
    SBOX[p] = (x ^ 0x63) & 0xff;
  } while (p !== 1);
  SBOX[0] = 0x63;
  for (let i = 0; i < 256; i++) {
    MUL2[i] = ((i << 1) ^ (i & 0x80 ? 0x1b : 0)) & 0xff;
    MUL3[i] = MUL2[i] ^ i;
  }
})();

function rotl8(x, s) {
  return ((x << s) | (x >>> (8 - s))) & 0xff;
}

/** Expands a 16-byte key into the 11 round keys (176 bytes). */
export function expandKey(key) {
  if (key.length !== 16) throw new Error('AES-128 needs a 16-byte key');
  const w = new Uint8Array(176);
  w.set(key);
  let rcon = 1;
  for (let i = 16; i < 176; i += 4) {
    let t0 = w[i - 4], t1 = w[i - 3], t2 = w[i - 2], t3 = w[i - 1];
    if (i % 16 === 0) {
      [t0, t1, t2, t3] = [SBOX[t1] ^ rcon, SBOX[t2], SBOX[t3], SBOX[t0]];
      rcon = MUL2[rcon];
    }
    w[i] = w[i - 16] ^ t0; w[i + 1] = w[i - 15] ^ t1; w[i + 2] = w[i - 14] ^ t2; w[i + 3] = w[i - 13] ^ t3;
  }
  return w;
}

/** Encrypts one 16-byte block `s` in place with the expanded key `w`. */
export function encryptBlock(s, w) {
  for (let i = 0; i < 16; i++) s[i] ^= w[i];
  const t = new Uint8Array(16);
  for (let round = 1; round <= 10; round++) {
    // SubBytes + ShiftRows (state is column-major: byte r of column c at 4c+r).
    for (let c = 0; c < 4; c++) for (let r = 0; r < 4; r++) t[4 * c + r] = SBOX[s[4 * ((c + r) % 4) + r]];
    if (round < 10) {
      for (let c = 0; c < 4; c++) {
        const a0 = t[4 * c], a1 = t[4 * c + 1], a2 = t[4 * c + 2], a3 = t[4 * c + 3];
        s[4 * c] = MUL2[a0] ^ MUL3[a1] ^ a2 ^ a3;
        s[4 * c + 1] = a0 ^ MUL2[a1] ^ MUL3[a2] ^ a3;
        s[4 * c + 2] = a0 ^ a1 ^ MUL2[a2] ^ MUL3[a3];
        s[4 * c + 3] = MUL3[a0] ^ a1 ^ a2 ^ MUL2[a3];
      }
    } else s.set(t);
    const k = round * 16;
    for (let i = 0; i < 16; i++) s[i] ^= w[k + i];
  }
  return s;
}

/**
 * AES-128-CTR with a 128-bit big-endian counter starting at `iv` (the convention of OpenSSL's
 * aes-128-ctr and pyaes' Counter), so either side can check the other. Encrypt = decrypt.
 */
export function ctr(data, key, iv) {
  const w = expandKey(key);
  const out = new Uint8Array(data.length);
  const counter = Uint8Array.from(iv);
  const block = new Uint8Array(16);
  for (let off = 0; off < data.length; off += 16) {
    block.set(counter);
    encryptBlock(block, w);
    const end = Math.min(16, data.length - off);
    for (let i = 0; i < end; i++) out[off + i] = data[off + i] ^ block[i];
    for (let i = 15; i >= 0; i--) if (++counter[i] !== 256) break; else counter[i] = 0;
  }
  return out;
}
