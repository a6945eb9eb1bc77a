import { exponential, type Rng } from '../rng.js';

/**
 * STeLLAR's inter-arrival times (src/benchmarking/trigger.go, generateIAT), one delay per round,
 * in ms, each slept BEFORE its round:
 *   stochastic     IAT + E·ln(IAT) s with E ~ Exp(1) ("a shifted and scaled exponential to
 *                  guarantee a minimum sleep"), truncated to whole ms. The mean is IAT + ln(IAT):
 *                  IAT = 1 gives exactly 1 s; below 1 s the logarithm is negative and the delay can
 *                  go below zero, which Go's time.Sleep treats as no sleep (so 0 here); IAT 0
 *                  (STeLLAR's default) is no sleep at all.
 *   deterministic  time.Duration(IAT) * time.Second: whole seconds, the fraction dropped.
 *   step           min(IAT, IAT + i) whole seconds: in effect a constant IAT (STeLLAR marks it untested).
 * STeLLAR draws from Go's global generator; here the sub-experiment's seed makes a rerun identical.
 */
export const STELLAR_IAT_TYPES = ['stellar-stochastic', 'stellar-deterministic', 'stellar-step'] as const;
export type StellarIatType = (typeof STELLAR_IAT_TYPES)[number];

export function isStellarIat(t: string): t is StellarIatType {
  return (STELLAR_IAT_TYPES as readonly string[]).includes(t);
}

/** One stochastic delay (ms) for a given Exp(1) draw `e`. */
export function stellarStochasticMs(iatSeconds: number, e: number): number {
  if (!(iatSeconds > 0)) return 0;
  const seconds = iatSeconds + e * Math.log(iatSeconds);
  return Math.max(0, Math.trunc(seconds * 1000));
}

export function stellarRoundDelays(type: StellarIatType, iatSeconds: number, rounds: number, rng: Rng): number[] {
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) {
    switch (type) {
      case 'stellar-stochastic':
        out.push(stellarStochasticMs(iatSeconds, exponential(rng, 1)));
        break;
      case 'stellar-deterministic':
        out.push(Math.trunc(iatSeconds) * 1000);
        break;
      case 'stellar-step':
        out.push(Math.trunc(Math.min(iatSeconds, iatSeconds + i)) * 1000);
        break;
    }
  }
  return out;
}
