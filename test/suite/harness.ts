import { execFile } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LocalInvoker } from '../../src/suite/local-invoker.js';
import type { Invoker } from '../../src/suite/invoker.js';
import { PlatformInvoker, readEndpoint } from '../../src/suite/platform-invoker.js';
import { startTestPlatform, removeState } from '../platform/harness.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The one place that decides how the suite tests reach a function. By default they start a real
 * platform (worker processes, sandboxes) and go through its HTTP API; HIVELAB_SUITE_STATE=<state
 * folder> uses an already running platform instead, and HIVELAB_SUITE_LOCAL=1 runs the handlers
 * directly (Node: imported into the test process; Python: a harness process per function).
 */
export async function makeInvoker(): Promise<Invoker> {
  if (process.env.HIVELAB_SUITE_LOCAL === '1') return new LocalInvoker();
  const state = process.env.HIVELAB_SUITE_STATE;
  if (state) return new PlatformInvoker(await readEndpoint(state));
  const t = await startTestPlatform();
  const invoker = new PlatformInvoker(await readEndpoint(t.stateDir));
  const close = invoker.close.bind(invoker);
  invoker.close = async () => {
    await close();
    await t.stop();
    await removeState(t.stateDir);
  };
  return invoker;
}

/** Runs scripts/setup-suite.sh (quick when its stamp is current) so data/ and the models exist. */
export async function ensureSuiteData(): Promise<void> {
  await promisify(execFile)('bash', [`${ROOT}/scripts/setup-suite.sh`], { maxBuffer: 16 * 2 ** 20 });
}

/** One invoker per test file, with the suite's data in place first; call the result inside tests. */
export function useSuiteInvoker(): () => Invoker {
  let invoker: Invoker | undefined;
  beforeAll(async () => {
    await ensureSuiteData();
    invoker = await makeInvoker();
  }, 180_000);
  afterAll(async () => {
    await invoker?.close();
  });
  return () => invoker!;
}
