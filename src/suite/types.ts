import type { Runtime } from '../manifest/schema.js';

/** A JSON event as the suite sends it; every function accepts `inputMode`, `seed`, `index` (functions/README.md). */
export type SuiteEvent = Record<string, unknown>;

/**
 * Checks a function's output for the event that produced it and returns the problems found (empty
 * when the output is valid). Checks recompute what they can (a Fibonacci number, an HMAC, an AES
 * block) instead of trusting the function's own claims.
 */
export type Validator = (output: unknown, event: SuiteEvent) => string[] | Promise<string[]>;

/** One function of the suite, as the catalogue lists it. */
export interface SuiteFunction {
  /** Function name (= folder name under functions/, = manifest name). */
  name: string;
  runtime: Runtime;
  /** Absolute path of the function folder. */
  dir: string;
  /** Absolute path of the folder's sample event. */
  sampleInputPath: string;
  /** Whether set-up must have generated `data/` before the function can run. */
  needsData: boolean;
  validate: Validator;
}
