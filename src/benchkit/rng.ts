/**
 * A small seeded PRNG (mulberry32). Schedules must be reproducible: the same experiment file and
 * seed give the same arrival times, so two runs differ only in what the target did.
 */
export type Rng = () => number;

export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Exponential variate with the given mean (inverse CDF; 1 − u keeps log away from 0). */
export function exponential(rng: Rng, mean: number): number {
  return -mean * Math.log(1 - rng());
}
