import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LocalInvoker } from '../../src/suite/local-invoker.js';
import type { Invoker } from '../../src/suite/invoker.js';
import { PlatformInvoker, readEndpoint } from '../../src/suite/platform-invoker.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The one place that decides how the suite tests reach a function. By default the handlers run
 * directly (Node: imported into the test process; Python: a harness process per function). With
 * HIVELAB_SUITE_STATE=<state folder of a running platform> the same tests go through its HTTP API.
 */
export async function makeInvoker(): Promise<Invoker> {
  const state = process.env.HIVELAB_SUITE_STATE;
  return state ? new PlatformInvoker(await readEndpoint(state)) : new LocalInvoker();
}

/** Runs scripts/setup-suite.sh (quick when its stamp is current) so data/ and the models exist. */
export async function ensureSuiteData(): Promise<void> {
  await promisify(execFile)('bash', [`${ROOT}/scripts/setup-suite.sh`], { maxBuffer: 16 * 2 ** 20 });
}
