import type { Rng } from '../azure-trace/rng.js';

/** How a minute's invocation count is laid out inside the minute. */
export type ArrivalSpread = 'uniform' | 'equidistant';

/**
 * Writes `count` sorted arrival times within [start, start + span) into `out` (which must hold
 * `count`). Uniform: sorted uniforms drawn directly as normalised cumulative exponential spacings,
 * O(count) with no sort. Equidistant: at (j + ½)·span/count.
 */
export function spreadArrivals(count: number, start: number, span: number, mode: ArrivalSpread, rng: Rng, out: Float64Array): void {
  if (mode === 'equidistant') {
    const step = span / count;
    for (let j = 0; j < count; j++) out[j] = start + (j + 0.5) * step;
    return;
  }
  let sum = 0;
  for (let j = 0; j < count; j++) {
    sum += rng.exp();
    out[j] = sum;
  }
  sum += rng.exp();
  const scale = span / sum;
  for (let j = 0; j < count; j++) out[j] = start + out[j]! * scale;
}
