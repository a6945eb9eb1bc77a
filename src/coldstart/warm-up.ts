import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstanceSpec } from '../sandbox/backend.js';
import { unixRequest } from '../snapshot/invoke.js';

/**
 * The warm-up invocation: the function's `sample-input.json` (or `{}`), sent by the worker itself
 * before a snapshot is taken and in REAP's record phase. The worker never sees routed invocations,
 * so no user request waits on this bookkeeping; the price is that the working set is that of the
 * warm-up event.
 */

export async function warmUpEvent(functionDir: string): Promise<Buffer> {
  return readFile(join(functionDir, 'sample-input.json')).catch(() => Buffer.from('{}'));
}

/** Invokes the warm-up event; a failing handler still warmed the runtime up, so that is only logged. */
export async function invokeWarmUp(
  spec: InstanceSpec,
  socketPath: string,
  log: (level: 'warn', msg: string) => void,
  timeoutMs = Math.max(spec.manifest.timeoutMs, 10_000),
): Promise<void> {
  const r = await unixRequest(socketPath, 'POST', '/invoke', await warmUpEvent(spec.functionDir), timeoutMs);
  if (r.status !== 200) log('warn', `${spec.manifest.name}: warm-up invocation answered ${r.status}: ${r.body.toString('utf8').slice(0, 200)}`);
}
