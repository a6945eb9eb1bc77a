// The JPEGs image-rotate works on: set-up runs this file (`node inputs.mjs`) to fill data/ with the
// pooled variants; the handler calls makeJpeg itself for sizes or variants not pooled.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { POOL_SIZE, rng, variantSeed } from './inputmode.mjs';

/** Width of the pooled images (height is 3/4 of it: landscape, so a rotation visibly swaps them). */
export const POOLED_SIZE = 512;

export function dimensions(size) {
  return [Math.floor(size), Math.max(1, Math.round((size * 3) / 4))];
}

/** A seeded landscape photo stand-in: gradient, random rectangles, a red marker in the top-left corner. */
export async function makeJpeg(size, seed) {
  const [w, h] = dimensions(size);
  const random = rng(seed);
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.fill(Math.floor((255 * y) / h), (y * w + x) * 3, (y * w + x) * 3 + 3);
  const rects = Array.from({ length: 24 }, () => {
    const x0 = Math.floor(random() * w), y0 = Math.floor(random() * h);
    return [x0, y0, x0 + 1 + Math.floor(random() * (w / 3)), y0 + 1 + Math.floor(random() * (h / 3)), [0, 0, 0].map(() => Math.floor(random() * 256))];
  });
  rects.push([0, 0, Math.max(1, w >> 3), Math.max(1, h >> 3), [255, 0, 0]]);
  for (const [x0, y0, x1, y1, c] of rects)
    for (let y = y0; y < Math.min(h, y1); y++) for (let x = x0; x < Math.min(w, x1); x++) px.set(c, (y * w + x) * 3);
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

export function poolPath(dir, index) {
  return `${dir}/image-${index}.jpg`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = fileURLToPath(new URL('./data', import.meta.url));
  const base = Number(process.argv[2] ?? 1);
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < POOL_SIZE; i++) writeFileSync(poolPath(dir, i), await makeJpeg(POOLED_SIZE, variantSeed(base, i)));
  console.log(`image-rotate-node: ${POOL_SIZE} JPEGs of ${dimensions(POOLED_SIZE).join('x')}`);
}
