import { snapshotSupport } from '../../src/coldstart/availability.js';

/**
 * One answer for every test file that needs CRIU: why snapshots cannot work here (CRIU or the REAP
 * monitor not built, not root, or the bounded CRIU probe failed: src/snapshot/probe.ts), or null.
 * The probe is remembered with the build, so this takes milliseconds after the first run and never
 * more than the CRIU deadline floor: tests that need snapshots are skipped within seconds, with the
 * reason printed, instead of hanging in a hook.
 */
export async function snapshotsUnavailable(what = 'snapshot tests'): Promise<string | null> {
  const s = await snapshotSupport();
  if (s.available) return null;
  console.warn(`skipping ${what}: ${s.reason}`);
  return s.reason ?? 'snapshots unavailable';
}
