import { describe, it, expect } from 'vitest';
import { mkdirSync, existsSync, writeFileSync, rmdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CGROUP_ROOT, CGROUP_PARENT, InstanceCgroup, readyGroupName, sweepOrphanCgroups } from '../../src/sandbox/cgroup.js';

describe('sweeping cgroups orphaned by a killed worker', () => {
  it('removes empty instance groups and leaves a group with a live process alone', async () => {
    const parent = join(CGROUP_ROOT, 'pids', CGROUP_PARENT);
    const empty = join(parent, `sweep-test-empty-${process.pid}`);
    const busy = join(parent, `sweep-test-busy-${process.pid}`);
    mkdirSync(empty, { recursive: true });
    mkdirSync(busy, { recursive: true });
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(join(busy, 'cgroup.procs'), String(sleeper.pid));
      await sweepOrphanCgroups(CGROUP_ROOT, 0);
      expect(existsSync(empty)).toBe(false);
      expect(existsSync(busy)).toBe(true);
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((r) => sleeper.once('exit', r));
      if (existsSync(empty)) rmdirSync(empty);
      if (existsSync(busy)) rmdirSync(busy);
    }
  });

  it("kills and removes a dead worker's ready-CRIU groups with what is left in them, and leaves a live worker's alone", async () => {
    // a worker that is gone: a process that has exited (its PID is not reused within the test)
    const gone = spawn('true');
    await new Promise((r) => gone.once('exit', r));
    const dead = await InstanceCgroup.make(readyGroupName(gone.pid!, 0));
    const live = await InstanceCgroup.make(readyGroupName(process.pid, 97));
    // what a killed worker's CRIU leaves: a kernel-probe child with no parent-death signal
    const orphan = spawn('sleep', ['600'], { stdio: 'ignore' });
    const kept = spawn('sleep', ['600'], { stdio: 'ignore' });
    const orphanGone = new Promise((r) => orphan.once('exit', r));
    try {
      for (const f of dead.procsFiles) writeFileSync(f, String(orphan.pid));
      for (const f of live.procsFiles) writeFileSync(f, String(kept.pid));
      await sweepOrphanCgroups(CGROUP_ROOT, 60_000); // young groups: only the dead worker's go
      await orphanGone;
      expect(existsSync(dead.dir('pids'))).toBe(false);
      expect(existsSync(live.dir('pids'))).toBe(true);
      expect(await live.pids()).toEqual([kept.pid]);
    } finally {
      orphan.kill('SIGKILL');
      await live.remove();
      await dead.remove();
    }
  });
});
