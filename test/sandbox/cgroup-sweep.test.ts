import { describe, it, expect } from 'vitest';
import { mkdirSync, existsSync, writeFileSync, rmdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CGROUP_ROOT, CGROUP_PARENT, sweepOrphanCgroups } from '../../src/sandbox/cgroup.js';

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
});
