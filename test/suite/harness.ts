import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LocalInvoker } from '../../src/suite/local-invoker.js';
import type { Invoker } from '../../src/suite/invoker.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The one place that decides how the suite tests reach a function. Today: the handlers run directly
 * (Node: imported into the test process; Python: a harness process per function). For the
 * through-the-platform variant return `new PlatformInvoker(await readEndpoint(stateDir))` here.
 */
export async function makeInvoker(): Promise<Invoker> {
  return new LocalInvoker();
}

/** Runs scripts/setup-suite.sh (quick when its stamp is current) so data/ and the models exist. */
export async function ensureSuiteData(): Promise<void> {
  await promisify(execFile)('bash', [`${ROOT}/scripts/setup-suite.sh`], { maxBuffer: 16 * 2 ** 20 });
}
