// Input variation (functions/README.md, "Input control"). A copy of this file lives in every Node
// function folder because a deployed folder is self-contained (/var/task sees nothing else);
// test/suite/shared.test.ts keeps the copies identical to functions/_shared/inputmode.mjs.
import { createHash, randomUUID } from 'node:crypto';

export const INPUT_MODES = ['same', 'unique', 'linear', 'random'];
/** How many input variants set-up pre-generates per function (indexes 0..POOL_SIZE-1). */
export const POOL_SIZE = 4;

// Per instance: "linear" walks the pool in invocation order, so a warm instance sees every variant.
let invocations = 0;

/** 32-bit seed of variant `index` under base seed `base`; same formula in inputmode.py. */
export function variantSeed(base, index) {
  return createHash('sha256').update(`${base}:${index}`).digest().readUInt32BE(0);
}

/**
 * Which input this invocation works on: `index` < POOL_SIZE is a pooled (pre-generated) variant,
 * anything larger is a fresh one that the function synthesises from `seed`.
 */
export function pickInput(event, context) {
  const mode = event?.inputMode ?? 'same';
  if (!INPUT_MODES.includes(mode)) throw new Error(`inputMode must be one of ${INPUT_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  const base = Number.isInteger(event?.seed) ? event.seed : 1;
  const n = invocations++;
  let index;
  if (Number.isInteger(event?.index) && event.index >= 0) index = event.index;
  else if (mode === 'same') index = 0;
  else if (mode === 'linear') index = n % POOL_SIZE;
  else if (mode === 'random') index = Math.floor(Math.random() * POOL_SIZE);
  else {
    // Unique across instances and snapshot clones: the invocation id differs even where Math.random would not.
    const id = context?.invocationId ?? randomUUID();
    index = POOL_SIZE + createHash('sha256').update(`${id}:${n}`).digest().readUIntBE(0, 6);
  }
  return { mode, index, seed: variantSeed(base, index), pooled: index < POOL_SIZE };
}

/** Small fast deterministic PRNG (mulberry32): inputs must not depend on the runtime's reseeding. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Reads a positive number from the event, with a default and an upper bound (refuses nonsense early). */
export function sizeParam(event, key, def, max) {
  const v = event?.[key] ?? def;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > max) throw new Error(`${key} must be a number in (0, ${max}], got ${JSON.stringify(v)}`);
  return v;
}
