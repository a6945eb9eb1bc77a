// The JSON documents json-serdes works on: set-up runs this file (`node inputs.mjs`) to fill data/
// with the pooled variants; the handler calls makeDocument itself for sizes or variants not pooled.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { POOL_SIZE, rng, variantSeed } from './inputmode.mjs';

/** Size (MB) of the pooled documents; the sample input asks for this size. */
export const POOLED_MB = 1;
const TAGS = ['alpha', 'beta', 'gamma', 'delta', 'cold', 'warm', 'snap', 'reap'];

/** A seeded document of records (nested objects, arrays, numbers, strings) of at least `bytes` bytes. */
export function makeDocument(bytes, seed) {
  const random = rng(seed);
  const records = [];
  let size = 0;
  for (let id = 0; size < bytes; id++) {
    const rec = {
      id,
      name: `user-${Math.floor(random() * 1e6)}`,
      email: `u${id}@example.org`,
      active: random() < 0.5,
      score: Math.round(random() * 1e6) / 100,
      tags: TAGS.filter(() => random() < 0.3),
      address: { city: ['Zurich', 'Edinburgh', 'Lisbon'][Math.floor(random() * 3)], zip: String(1000 + Math.floor(random() * 9000)) },
      history: Array.from({ length: 1 + Math.floor(random() * 4) }, (_, t) => ({ t, v: Math.floor(random() * 1000) })),
    };
    records.push(rec);
    size += JSON.stringify(rec).length + 1;
  }
  return JSON.stringify({ generator: 'hivelab-suite', seed, records });
}

export function poolPath(dir, index) {
  return `${dir}/doc-${index}.json`;
}

// `node inputs.mjs [seed]`: writes the pooled variants.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = fileURLToPath(new URL('./data', import.meta.url));
  const base = Number(process.argv[2] ?? 1);
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < POOL_SIZE; i++) writeFileSync(poolPath(dir, i), makeDocument(POOLED_MB * 2 ** 20, variantSeed(base, i)));
  console.log(`json-serdes-node: ${POOL_SIZE} documents of ${POOLED_MB} MB`);
}
