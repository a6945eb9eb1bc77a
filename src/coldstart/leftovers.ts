import { readdir, readFile, readlink, realpath, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { InstanceCgroup } from '../sandbox/cgroup.js';
import { CRIU_WORK_SUFFIX, mountsBelow, unmountRunDir } from '../sandbox/run-dir.js';
import { criuBinary } from '../snapshot/criu.js';
import { monitorBinary } from '../reap/monitor.js';
import { killPids } from '../snapshot/deadline.js';

/**
 * What a killed worker or platform leaves running, found and killed. A restored instance is its
 * CRIU relay's child, and the relay dies with the worker while the instance runs on (it has no
 * parent-death signal); a dump in progress holds its tracee frozen; and CRIU and the REAP monitor
 * are children of a worker that may have died with SIGKILL.
 *
 * How they are found without touching anything else on the host (tests run several platforms at
 * once, each with its own state folder):
 *   - instances: every instance has a run folder `<state>/run/<instanceId>` from before its start
 *     until its exit is handled, and its cgroups are named by that id (random per start): killing
 *     those groups ends the instance with everything it spawned, the shell and CRIU of a restore in
 *     progress (they join the group first) and the frozen tracee of a dump;
 *   - helpers: processes whose program is our CRIU or REAP monitor build (or named criu /
 *     reap-monitor) and whose command line names a path in this state folder (its run folders,
 *     CRIU's work folders beside them `<id>.criu`, or snapshots) — another platform's helpers name another state folder;
 *   - half-written snapshots: `<state>/snapshots/<function>/<version>.tmp-<pid>-<time>` scratch
 *     folders, whose dump never finished.
 */

export interface Leftovers {
  instances: string[];
  helpers: number[];
  scratch: string[];
}

const SAFE_ID = /^[A-Za-z0-9_.-]{1,200}$/;

async function cmdline(pid: string): Promise<string[]> {
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return raw.split('\0').filter(Boolean);
}

/** PIDs of CRIU or REAP monitor processes whose arguments name a path starting with one of `prefixes`. */
export async function helperPids(prefixes: string[]): Promise<number[]> {
  const programs = new Set([criuBinary(), monitorBinary()]);
  const out: number[] = [];
  for (const p of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    const argv = await cmdline(p);
    if (argv.length === 0) continue;
    const exe = await readlink(`/proc/${p}/exe`).catch(() => '');
    // a stand-in script (HIVELAB_CRIU) runs as `/bin/sh script …`: look at the first two words
    const isHelper = [exe, argv[0]!, argv[1] ?? ''].some((w) => programs.has(w) || basename(w) === 'criu' || basename(w) === 'reap-monitor');
    if (!isHelper) continue;
    if (argv.some((a) => prefixes.some((pre) => a.startsWith(pre) || a.includes(`=${pre}`) || a.includes(`:${pre}`)))) out.push(Number(p));
  }
  return out;
}

/**
 * Kills what instances `instanceIds` (default: every run folder in the state) and their helpers
 * left running, and removes their cgroups. `scratchOf`: also delete half-written snapshots of
 * these worker PIDs (`'all'` at platform start, when no worker runs).
 */
export async function killLeftovers(stateDir: string, opts: { instanceIds?: string[]; scratchOf?: number[] | 'all' } = {}): Promise<Leftovers> {
  // Helpers name paths as they were given (a symlinked state folder stays unresolved): match both.
  const roots = [...new Set([resolve(stateDir), await realpath(stateDir).catch(() => resolve(stateDir))])];
  const root = roots[0]!;
  const runRoot = join(root, 'run');
  // `<id>` is an instance's run folder, `<id>.criu` CRIU's work folder beside it (restores)
  // an instance's CRIU work folder can outlive its run folder (it holds a clone's /tmp mounts): both name it
  const found = (await readdir(runRoot, { withFileTypes: true }).catch(() => [])).filter((d) => d.isDirectory()).map((d) => (d.name.endsWith(CRIU_WORK_SUFFIX) ? d.name.slice(0, -CRIU_WORK_SUFFIX.length) : d.name));
  const ids = [...new Set(opts.instanceIds ?? found)].filter((id) => SAFE_ID.test(id) && !id.startsWith('.'));
  const prefixes = roots.flatMap((r) =>
    opts.instanceIds ? ids.flatMap((id) => [join(r, 'run', id) + '/', join(r, 'run', id) + CRIU_WORK_SUFFIX + '/']) : [join(r, 'run') + '/', join(r, 'snapshots') + '/'],
  );
  // Helpers first: a CRIU killed before its tree cannot fork more of it.
  const helpers = prefixes.length ? await helperPids(prefixes) : [];
  killPids(helpers);
  const instances: string[] = [];
  for (const id of ids) {
    const cg = InstanceCgroup.of(id);
    if ((await cg.pids()).length > 0) instances.push(id);
    await cg.killAll('SIGKILL');
    await cg.remove().catch(() => undefined);
    // At platform start the run folder (a tmpfs) and CRIU's work folder are garbage too.
    if (!opts.instanceIds) {
      await unmountRunDir(join(runRoot, id)).catch(() => undefined);
      await rm(join(runRoot, id), { recursive: true, force: true }).catch(() => undefined);
    }
    // a restored clone's /tmp and /dev/shm are tmpfs mounts in CRIU's work folder (docs/SANDBOX.md)
    for (const m of await mountsBelow(join(runRoot, id + CRIU_WORK_SUFFIX)).catch(() => [])) await unmountRunDir(m).catch(() => undefined);
    await rm(join(runRoot, id + CRIU_WORK_SUFFIX), { recursive: true, force: true }).catch(() => undefined);
  }
  const scratch: string[] = [];
  if (opts.scratchOf) {
    const snapshots = join(root, 'snapshots');
    for (const fn of await readdir(snapshots).catch(() => [] as string[])) {
      for (const v of await readdir(join(snapshots, fn)).catch(() => [] as string[])) {
        const m = /\.tmp-(\d+)-\d+$/.exec(v);
        if (!m || (opts.scratchOf !== 'all' && !opts.scratchOf.includes(Number(m[1])))) continue;
        await rm(join(snapshots, fn, v), { recursive: true, force: true });
        scratch.push(join(fn, v));
      }
    }
  }
  return { instances, helpers, scratch };
}
