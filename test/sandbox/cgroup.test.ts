import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { CgroupError, InstanceCgroup } from '../../src/sandbox/cgroup.js';

// Real cgroup v1 groups (needs root and the memory, cpu and pids controllers).
describe('instance cgroup', () => {
  test('limits, membership, usage, and removal that kills stragglers', async () => {
    const cg = await InstanceCgroup.create(`cgtest-${process.pid}`, { memoryMB: 100, pidsMax: 64 });
    const sleeper = spawn('/bin/sh', ['-c', `echo $$ > ${cg.dir('memory')}/cgroup.procs && echo $$ > ${cg.dir('pids')}/cgroup.procs && exec sleep 600`], {
      stdio: 'ignore',
    });
    const exited = new Promise((r) => sleeper.once('exit', r));
    try {
      expect(Number(readFileSync(`${cg.dir('memory')}/memory.limit_in_bytes`, 'utf8'))).toBe(100 * 1024 * 1024);
      expect(readFileSync(`${cg.dir('memory')}/memory.swappiness`, 'utf8').trim()).toBe('0');
      expect(readFileSync(`${cg.dir('pids')}/pids.max`, 'utf8').trim()).toBe('64');
      // Wait until the shell has moved itself in (no timing assumptions: poll generously).
      for (let i = 0; i < 500 && !(await cg.pids()).includes(sleeper.pid!); i++) await new Promise((r) => setTimeout(r, 20));
      expect(await cg.pids()).toContain(sleeper.pid);
      expect(await cg.memoryUsage()).toBeGreaterThan(0);
      expect(await cg.oomKills()).toBe(0);
    } finally {
      await cg.remove();
    }
    await exited;
    for (const c of ['memory', 'cpu', 'cpuacct', 'pids'] as const) expect(existsSync(cg.dir(c))).toBe(false);
    await cg.remove(); // idempotent
  });

  test('a group made ahead of demand takes a higher and then a lower memory limit, memsw following', async () => {
    // a ready CRIU's group is limited for whatever start comes first, then claimed by another
    const cg = await InstanceCgroup.make(`cgtest-limits-${process.pid}`);
    const mem = (f: string) => Number(readFileSync(`${cg.dir('memory')}/${f}`, 'utf8'));
    const swap = existsSync(`${cg.dir('memory')}/memory.memsw.limit_in_bytes`);
    try {
      for (const mb of [256, 384, 128]) {
        await cg.setLimits({ memoryMB: mb });
        expect(mem('memory.limit_in_bytes')).toBe(mb * 1024 * 1024);
        if (swap) expect(mem('memory.memsw.limit_in_bytes')).toBe(mb * 1024 * 1024);
      }
    } finally {
      await cg.remove();
    }
  });

  test('the same limits again cost no writes, also after a rename; other limits and failed writes are written again', async () => {
    // a ready CRIU's groups carry the last start's limits; the next claim by that function skips them
    let cg = await InstanceCgroup.make(`cgtest-same-${process.pid}`);
    const limit = () => Number(readFileSync(`${cg.dir('memory')}/memory.limit_in_bytes`, 'utf8'));
    try {
      await cg.setLimits({ memoryMB: 128 });
      writeFileSync(`${cg.dir('memory')}/memory.limit_in_bytes`, String(100 * 1024 * 1024)); // a mark (below memsw): not written over
      cg = await cg.renameTo(`cgtest-same-renamed-${process.pid}`);
      await cg.setLimits({ memoryMB: 128 });
      expect(limit()).toBe(100 * 1024 * 1024);
      await cg.setLimits({ memoryMB: 256 });
      expect(limit()).toBe(256 * 1024 * 1024);
      await cg.setLimits({ memoryMB: 128, pidsMax: 64 });
      expect(limit()).toBe(128 * 1024 * 1024);
      expect(readFileSync(`${cg.dir('pids')}/pids.max`, 'utf8').trim()).toBe('64');
      // a failure half-way leaves the limits unknown: the next call writes them all again
      await expect(cg.setLimits({ memoryMB: 64, cpuShares: -5 })).rejects.toThrow(/cpu shares/);
      await expect(cg.setLimits({ memoryMB: 64, cpuShares: -5 })).rejects.toThrow(/cpu shares/);
      writeFileSync(`${cg.dir('memory')}/memory.limit_in_bytes`, String(32 * 1024 * 1024));
      await cg.setLimits({ memoryMB: 128, pidsMax: 64 });
      expect(limit()).toBe(128 * 1024 * 1024);
    } finally {
      await cg.remove();
    }
  });

  test('re-creating a group left behind by a crashed worker empties it first', async () => {
    const name = `cgtest-stale-${process.pid}`;
    const first = await InstanceCgroup.create(name, { memoryMB: 64 });
    const stale = spawn('/bin/sh', ['-c', `echo $$ > ${first.dir('memory')}/cgroup.procs && exec sleep 600`], { stdio: 'ignore' });
    const exited = new Promise((r) => stale.once('exit', r));
    for (let i = 0; i < 500 && !(await first.pids()).includes(stale.pid!); i++) await new Promise((r) => setTimeout(r, 20));
    const second = await InstanceCgroup.create(name, { memoryMB: 64 });
    await exited; // killed by create()
    await second.remove();
  });

  test('refuses ids that are not safe as a folder name', async () => {
    await expect(InstanceCgroup.create('../escape', { memoryMB: 64 })).rejects.toBeInstanceOf(CgroupError);
    await expect(InstanceCgroup.create('a/b', { memoryMB: 64 })).rejects.toThrow(/not usable as a cgroup name/);
  });

  test('a limit the kernel refuses is reported with the file and value', async () => {
    const cg = await InstanceCgroup.create(`cgtest-bad-${process.pid}`, { memoryMB: 64 });
    try {
      writeFileSync(`${cg.dir('pids')}/pids.max`, '10');
      await expect(InstanceCgroup.create(`cgtest-bad-${process.pid}`, { memoryMB: 64, cpuShares: -5 })).rejects.toThrow(/cpu shares.*cpu\.shares/);
    } finally {
      await cg.remove();
    }
  });
});
