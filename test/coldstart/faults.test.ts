import { spawn } from 'node:child_process';
import { chmod, cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { criuBinary } from '../../src/snapshot/criu.js';
import { monitorBinary } from '../../src/reap/monitor.js';
import { helperPids, killLeftovers } from '../../src/coldstart/leftovers.js';
import { FIXTURES, removeState, startTestPlatform, type TestPlatform } from '../platform/harness.js';
import { instanceRecord, snapshotsUnavailable, stopInstances } from './helpers.js';
import { isRunning as alive } from '../helpers/process.js';

/**
 * Faults in the snapshot machinery must cost a boot, never a hang or a leftover process:
 * a CRIU that never returns (dump, restore), a REAP monitor that never listens, and a platform
 * killed with SIGKILL. The hanging CRIU and monitor are stand-ins (HIVELAB_CRIU,
 * HIVELAB_REAP_MONITOR) that pass through to the real ones unless a flag file names their phase;
 * a hanging one becomes `sleep 98765`, so a survivor would be easy to find.
 */

const unavailable = await snapshotsUnavailable('snapshot fault tests');
const HANG = 'sleep 98765';
const DIST = resolve(import.meta.dirname, '../../dist');

const cmdline = async (pid: string) => (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').trim();

/**
 * PIDs of hung stand-ins (`sleep 98765`). A CRIU kept ready for the next restore (its relay binds in
 * `run/.criu-ready/`) is not left over: it is the worker's, waiting, and dies with it.
 */
async function hungStandIns(): Promise<number[]> {
  const out: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p) || (await cmdline(p)) !== HANG) continue;
    const ppid = /^PPid:\s*(\d+)/m.exec(await readFile(`/proc/${p}/status`, 'utf8').catch(() => ''))?.[1];
    const parent = ppid ? await cmdline(ppid) : '';
    if (parent.includes('--criu-swrk') && parent.includes('/.criu-ready/')) continue;
    out.push(Number(p));
  }
  return out;
}

describe.skipIf(unavailable !== null)('a CRIU or monitor that never returns', () => {
  let tp: TestPlatform;
  let flags: string;
  const saved: Record<string, string | undefined> = {};
  const env = (k: string, v: string) => {
    saved[k] = process.env[k];
    process.env[k] = v;
  };

  beforeAll(async () => {
    flags = await mkdtemp(join(tmpdir(), 'hivelab-faults-'));
    const criu = join(flags, 'criu');
    // $1 is the CRIU command (dump, lazy-pages, --version, …; `swrk` for a restore: a CRIU made
    // ready ahead of demand, so the flag must exist when the next one is made)
    await writeFile(criu, `#!/bin/sh\n[ -e "${flags}/hang-$1" ] && exec ${HANG}\nexec "${criuBinary()}" "$@"\n`);
    const monitor = join(flags, 'reap-monitor');
    await writeFile(monitor, `#!/bin/sh\n[ -e "${flags}/hang-monitor" ] && exec ${HANG}\nexec "${monitorBinary()}" "$@"\n`);
    await chmod(criu, 0o755);
    await chmod(monitor, 0o755);
    // Workers inherit the environment: stand-ins, and deadlines short enough for a test.
    env('HIVELAB_CRIU', criu);
    env('HIVELAB_REAP_MONITOR', monitor);
    env('HIVELAB_CRIU_DEADLINE_MS', '5000');
    tp = await startTestPlatform({ coldStart: 'reap', workers: 1 });
    // snap-node with room for a launcher boot, a deadline and a fresh boot on a loaded 2-core host
    const fn = join(flags, 'snap-node');
    await cp(join(FIXTURES, 'snap-node'), fn, { recursive: true });
    const manifest = JSON.parse(await readFile(join(fn, 'function.json'), 'utf8'));
    await writeFile(join(fn, 'function.json'), JSON.stringify({ ...manifest, timeoutMs: 120_000 }));
    expect((await tp.deploy(fn)).status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await tp?.stop();
    if (tp) await removeState(tp.stateDir);
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (flags) await rm(flags, { recursive: true, force: true });
  }, 60_000);

  const cold = async (): Promise<{ id: string; mode: string | undefined }> => {
    await stopInstances(tp, 'snap-node');
    const r = await tp.invoke('snap-node', { n: 1 });
    expect(r.status, r.body.toString()).toBe(200);
    const id = (r.json() as { instanceId: string }).instanceId;
    return { id, mode: instanceRecord(tp, 'snap-node', id)?.mode };
  };
  const snapshotFolders = async () => readdir(join(tp.stateDir, 'snapshots', 'snap-node')).catch(() => [] as string[]);

  it('a dump that never returns: CRIU and the frozen instance are killed, no images are kept, the request is served by a fresh boot', async () => {
    await writeFile(join(flags, 'hang-dump'), '');
    const r = await cold();
    expect(r.mode).toBe('boot');
    expect(await snapshotFolders()).toEqual([]); // neither a snapshot nor a half-written scratch folder
    expect(await hungStandIns()).toEqual([]);
    // the instance that was being dumped is gone: nothing started for a snapshot is left in the
    // instance's cgroup (the fresh boot there is the regular sandbox)
    const launchers = [];
    for (const p of await readdir('/proc')) {
      const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
      const cg = await readFile(`/proc/${p}/cgroup`, 'utf8').catch(() => '');
      if (cmd.includes('hivelab-snapshot-launch') && cg.includes(`/${r.id}\n`)) launchers.push(p);
    }
    expect(launchers).toEqual([]);
    await rm(join(flags, 'hang-dump'));
  }, 300_000);

  it('a restore that never returns is killed at its deadline and the cold start boots', async () => {
    expect((await cold()).mode).toBe('boot'); // makes the snapshot now that dumps work
    expect((await snapshotFolders()).length).toBe(1);
    await writeFile(join(flags, 'hang-swrk'), '');
    // no CRIU was made ready before (the first start booted): this one is made now, and hangs
    expect((await cold()).mode).toBe('boot');
    expect(await hungStandIns()).toEqual([]);
    await rm(join(flags, 'hang-swrk'));
  }, 300_000);

  it('a REAP monitor that never listens is killed at its deadline and the cold start boots; then REAP works again', async () => {
    await writeFile(join(flags, 'hang-monitor'), '');
    expect((await cold()).mode).toBe('boot');
    expect(await hungStandIns()).toEqual([]);
    await rm(join(flags, 'hang-monitor'));
    expect((await cold()).mode).toBe('reap');
  }, 300_000);
});

describe.skipIf(unavailable !== null)('a platform killed with SIGKILL', () => {
  // Eager restores: a restored instance then needs no helper and outlives its platform for sure.
  // (A lazily restored one dies with its REAP monitor, which is the worker's child and goes with it.)
  it("its next start kills the restored instances it left, and nothing else", async () => {
    const state = await mkdtemp(join(tmpdir(), 'hivelab-doomed-'));
    // The doomed platform runs in its own process group (with its worker): one SIGKILL for both.
    const script = `
      const { startPlatform } = await import(${JSON.stringify(join(DIST, 'platform.js'))});
      const p = await startPlatform({ port: 0, quiet: true, stateDir: ${JSON.stringify(state)}, coldStart: 'snapshot', workers: 1, dataServices: false });
      await p.control.deploy(${JSON.stringify(join(FIXTURES, 'snap-node'))});
      const invoke = (body) => fetch(p.url + '/invoke/snap-node', { method: 'POST', headers: { authorization: 'Bearer ' + p.tokens.invoke, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      await (await invoke({})).text(); // boot + snapshot
      const c = p.control.controller('snap-node');
      await Promise.all(c.instances.map((i) => c.recycle(i, true)));
      while (c.instances.some((i) => i.state !== 'dead')) await new Promise((r) => setTimeout(r, 25));
      void invoke({ sleepMs: 600000 }).catch(() => {}); // a restored instance, busy: it stays
      let inst;
      while (!(inst = c.instances.find((i) => i.state === 'busy' && i.mode === 'snapshot'))) await new Promise((r) => setTimeout(r, 25));
      process.stdout.write(JSON.stringify({ instancePid: inst.pid, instanceId: inst.id }) + '\\n');
      setInterval(() => {}, 1 << 30);
    `;
    // a file, not `-e`: the worker is forked with this process's exec arguments
    const scriptFile = join(state, 'doomed.mjs');
    await writeFile(scriptFile, script);
    const child = spawn(process.execPath, [scriptFile], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const line = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the doomed platform did not report its instance within 150 s')), 150_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) {
          clearTimeout(t);
          resolve(out.split('\n')[0]!);
        }
      });
      child.once('exit', (code) => reject(new Error(`the doomed platform exited (${code})`)));
    }).catch(async (err: Error) => {
      // never leave the doomed platform (and its worker) behind, whatever failed
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      await killLeftovers(state).catch(() => undefined);
      await removeState(state).catch(() => undefined);
      throw err;
    });
    const { instancePid } = JSON.parse(line) as { instancePid: number };
    let next: TestPlatform | undefined;
    try {
      process.kill(-child.pid!, 'SIGKILL');
      await new Promise((r) => child.once('exit', r));
      // CRIU restored the instance detached: it outlives its platform and worker
      expect(alive(instancePid)).toBe(true);

      next = await startTestPlatform({ workers: 1, dataServices: false }, state);
      expect(alive(instancePid)).toBe(false);
      expect(await helperPids([join(state, 'run') + '/', join(state, 'snapshots') + '/'])).toEqual([]);
      // the snapshot survives (it is state, not a process) and serves the next cold start
      const r = await next.invoke('snap-node', {});
      expect(r.status, r.body.toString()).toBe(200);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      await next?.stop();
      try {
        process.kill(instancePid, 'SIGKILL'); // only if an assertion above failed: leave nothing behind
      } catch {
        /* gone, as it should be */
      }
      // if an assertion failed before the next start: what it would have cleaned (run-folder tmpfs too)
      await killLeftovers(state).catch(() => undefined);
      await removeState(state).catch((err: Error) => console.warn(`state not removed: ${err.message}`));
    }
  }, 300_000);
});
