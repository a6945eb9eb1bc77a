import { readdir, readFile } from 'node:fs/promises';
import type { TestPlatform } from '../platform/harness.js';
export { snapshotsUnavailable } from '../helpers/snapshots.js';

/** Stops every instance of `fn` and waits until they are gone, so the next request is a cold start. */
export async function stopInstances(tp: TestPlatform, fn: string): Promise<void> {
  const c = tp.platform.control.controller(fn);
  if (!c) return;
  await Promise.all(c.instances.filter((i) => i.state !== 'dead').map((i) => c.recycle(i, true)));
  const until = Date.now() + 30_000;
  while (c.instances.some((i) => i.state !== 'dead') && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
}

/** The instance record the control plane keeps for `instanceId`. */
export function instanceRecord(tp: TestPlatform, fn: string, instanceId: string) {
  return tp.platform.control.controller(fn)?.instances.find((i) => i.id === instanceId);
}

/** The worker's figures for a live instance (memory, REAP monitor stats). */
export async function workerInstanceStats(tp: TestPlatform, instanceId: string) {
  for (const w of await tp.platform.control.workerStats()) {
    const s = w.instances.find((i) => i.instanceId === instanceId);
    if (s) return s;
  }
  return undefined;
}

/** PIDs of REAP monitor helpers serving instance `instanceId` (their socket lives in its run dir). */
export async function monitorPids(instanceId: string): Promise<number[]> {
  const out: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes('reap-monitor') && cmd.includes(`/${instanceId}.criu/`)) out.push(Number(p));
  }
  return out;
}
