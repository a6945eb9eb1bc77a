// Generated images of simple shapes: the data the CNN is trained on at set-up and the images it
// classifies when invoked. Grayscale 20x20, noisy background, one shape of random size/position.
import { rng } from './inputmode.mjs';

export const LABELS = ['circle', 'square', 'triangle', 'cross'];
export const SIZE = 20;

/** Draws shape `label` (index into LABELS) with the seeded generator `random`; values in [0, 1]. */
export function drawShape(label, random, size = SIZE) {
  const img = new Float32Array(size * size);
  for (let i = 0; i < img.length; i++) img[i] = random() * 0.25;
  const r = size * (0.26 + random() * 0.14);
  const cx = r + random() * (size - 2 * r), cy = r + random() * (size - 2 * r);
  const ink = 0.6 + random() * 0.4;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
      let inside;
      if (label === 0) inside = dx * dx + dy * dy <= r * r;
      else if (label === 1) inside = Math.abs(dx) <= r * 0.85 && Math.abs(dy) <= r * 0.85;
      else if (label === 2) inside = dy <= r * 0.8 && dy >= -r && Math.abs(dx) <= ((dy + r) / (1.8 * r)) * r;
      else inside = (Math.abs(dx) <= r * 0.28 || Math.abs(dy) <= r * 0.28) && Math.abs(dx) <= r && Math.abs(dy) <= r;
      if (inside) img[y * size + x] = ink;
    }
  }
  return img;
}

/** `n` seeded labelled images; labels cycle so every batch is balanced. */
export function makeImages(n, seed) {
  const random = rng(seed);
  const labels = Array.from({ length: n }, (_, i) => (i + Math.floor(random() * LABELS.length)) % LABELS.length);
  return { images: labels.map((l) => drawShape(l, random)), labels };
}
