import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { InstanceCgroup } from '../../../src/sandbox/cgroup.js';
import { SANDBOX_UID_BASE, SANDBOX_UID_END } from '../../../src/sandbox/launch.js';
import type { ColdStartMode } from '../../../src/manifest/schema.js';
import { eventually, FIXTURES, removeState, startTestPlatform, type TestPlatform } from '../../platform/harness.js';
import { instanceRecord, stopInstances } from '../../coldstart/helpers.js';

/**
 * Hostile functions against the sandbox, deployed through the real platform. Each case is an escape
 * a probe found on the bubblewrap sandbox (uid 0) or one more an attacker would try; every case
 * runs in each cold-start mode of MODES, since every mode must hold the same walls, and the
 * platform must keep serving a bystander afterwards.
 */

/**
 * The cold-start modes these cases run in. In a snapshot mode the cases run against a clone CRIU
 * restored into a fresh sandbox (the first cold start boots and snapshots; see beforeAll below);
 * `reap` gets its second restore, the one that prefetches the recorded working set.
 */
export const MODES: ColdStartMode[] = ['boot', 'snapshot', 'lazy', 'reap', 'criu-lazy'];

const HOSTILE = join(import.meta.dirname, 'hostile-python');
const MB = 1024 * 1024;

let t: TestPlatform;
let work: string;

function functionCopy(name: string, manifest: Record<string, unknown>): string {
  const dir = join(work, name);
  cpSync(HOSTILE, dir, { recursive: true });
  const base = JSON.parse(readFileSync(join(HOSTILE, 'function.json'), 'utf8'));
  writeFileSync(join(dir, 'function.json'), JSON.stringify({ ...base, name, ...manifest }));
  return dir;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'hivelab-hostile-'));
  t = await startTestPlatform();
  expect((await t.deploy(join(FIXTURES, 'echo-node'))).status).toBe(201);
}, 120_000);

afterAll(async () => {
  await t?.stop();
  if (t) await removeState(t.stateDir);
  if (work) rmSync(work, { recursive: true, force: true });
});

test('manifest env that changes the loader or a runtime is refused with 400 naming it', async () => {
  for (const [name, value] of [['LD_PRELOAD', '/var/task/evil.so'], ['NODE_OPTIONS', '--require /var/task/evil.js'], ['GLIBC_TUNABLES', 'x'], ['PYTHONSTARTUP', '/var/task/x.py']]) {
    const r = await t.deploy(functionCopy(`env-${name.toLowerCase().replace(/_/g, '-')}`, { env: { [name]: value } }));
    expect(r.status, name).toBe(400);
    expect(r.json().error.message).toContain(name);
  }
  // ordinary names still deploy
  expect((await t.deploy(functionCopy('env-ok', { env: { GREETING: 'hi', NODE_ENV: 'production' } }))).status).toBe(201);
});

describe.each(MODES)('hostile function, cold start %s', (mode) => {
  const name = `hostile-${mode}`;
  let instance: string;
  let uid: number;
  let servedBy = '';
  const call = async (event: Record<string, unknown>) => {
    const r = await t.invoke(name, event);
    expect(r.status, r.body.toString()).toBe(200);
    servedBy = r.headers['x-hivelab-instance-id'] ?? '';
    return r.json();
  };

  beforeAll(async () => {
    expect((await t.deploy(functionCopy(name, { coldStart: mode, scaling: { maxScale: 1 } }))).status).toBe(201);
    let who = await call({ op: 'whoami' });
    // snapshot modes: that instance booted and was snapshotted; the cases run in a restored clone
    // (reap: the first restore records the working set, the second prefetches it)
    for (let restore = 0; mode !== 'boot' && restore < (mode === 'reap' ? 2 : 1); restore++) {
      await stopInstances(t, name);
      who = await call({ op: 'whoami' });
    }
    // the platform's id of the instance (a restored clone's environment still names the snapshotted
    // one); maxScale 1 keeps every case on that one instance
    instance = servedBy;
    uid = who.uid;
    expect(instanceRecord(t, name, instance)?.mode).toBe(mode);
  }, 180_000);

  test('runs as its function\'s own unprivileged uid, with no capabilities, no_new_privs and seccomp', async () => {
    expect(uid).toBeGreaterThanOrEqual(SANDBOX_UID_BASE);
    expect(uid).toBeLessThan(SANDBOX_UID_END);
    const s = (await call({ op: 'syscalls' })).status;
    expect(s.Uid.split(/\s+/).map(Number)).toEqual([uid, uid, uid, uid]);
    for (const set of ['CapEff', 'CapPrm', 'CapBnd', 'CapAmb']) expect(s[set], set).toBe('0000000000000000');
    expect(s.NoNewPrivs).toBe('1');
    expect(s.Seccomp).toBe('2');
  });

  test('/proc/sys is read-only: core_pattern and every sysctl refuse a writer', async () => {
    const r = await call({ op: 'proc-sys' });
    expect(r.core_pattern.ok).toBe(false);
    expect(['EROFS', 'EACCES', 'EPERM']).toContain(r.core_pattern.error);
    expect(r.writable).toEqual([]);
  });

  test('nothing of the host: tokens.json by any path, /etc/shadow(-), /etc/gshadow(-), /root', async () => {
    const tokens = join(t.stateDir, 'tokens.json');
    expect(existsSync(tokens)).toBe(true);
    const paths = [tokens, `/proc/1/root${tokens}`, `/proc/self/root${tokens}`, `/../../..${tokens}`, t.stateDir, '/etc/shadow', '/etc/shadow-', '/etc/gshadow', '/etc/gshadow-', '/root'];
    const r = await call({ op: 'read', paths });
    for (const p of paths) expect(r[p].ok, `${p}: ${JSON.stringify(r[p])}`).toBe(false);
    // /etc itself is there (read-only), so the refusals above are permissions, not an empty root
    expect((await call({ op: 'read', paths: ['/etc/passwd'] }))['/etc/passwd'].ok).toBe(true);
  });

  test('/proc shows only the instance\'s own processes', async () => {
    const procs: { pid: number; cmd: string }[] = await call({ op: 'processes' });
    expect(procs.find((p) => p.pid === 1)?.cmd).toContain('shim.py');
    expect(procs.length).toBeLessThan(10);
    expect(procs.some((p) => /vitest|hivelab worker|dist\/worker/.test(p.cmd))).toBe(false);
  });

  test('seccomp refuses ptrace, process_vm_readv, mount, unshare, setns, keyctl, bpf, userfaultfd, io_uring, …', async () => {
    const r = await call({ op: 'syscalls' });
    expect(r.probe_failed, r.stderr).toBeUndefined();
    for (const call of ['ptrace_attach', 'process_vm_readv', 'kcmp', 'keyctl', 'add_key', 'bpf', 'userfaultfd', 'perf_event_open', 'io_uring_setup',
      'personality_no_aslr', 'name_to_handle_at', 'fsopen', 'setns', 'mount_tmpfs', 'unshare_user', 'unshare_mnt']) {
      expect(r[call], call).toBe('EPERM');
    }
    expect(r.clone3).toBe('ENOSYS'); // so libc falls back to clone, whose namespace flags are checked
    expect(r.mount_in_userns).toBeUndefined();
  });

  test('a setuid file planted in /run/hivelab or /tmp is the function\'s own and runs setuid for nobody', async () => {
    const r = await call({ op: 'plant-setuid' });
    for (const d of ['/run/hivelab', '/tmp']) {
      // planting works (the places are writable) but the file belongs to the function's uid
      expect(r[d].ok, JSON.stringify(r[d])).toBe(true);
      expect(r[d].value.uid).toBe(uid);
    }
    expect(r['/run/hivelab:exec'].ok).toBe(false); // noexec
    expect(r['/run/hivelab:exec'].error).toBe('EACCES');
    expect(r['/tmp:exec'].value).toBe(String(uid)); // nosuid + no_new_privs: still the function's uid
    // on the host: the run folder is its own nosuid, nodev, noexec tmpfs, closed to other users
    const runDir = join(t.stateDir, 'run', instance);
    const planted = join(runDir, 'planted-id');
    expect(statSync(planted).uid).toBe(uid);
    const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === runDir);
    expect(line, 'run folder is a mount').toBeDefined();
    expect(line).toMatch(/ - tmpfs /);
    for (const flag of ['nosuid', 'nodev', 'noexec']) expect(line!.split(' ')[5]!.split(',')).toContain(flag);
    const asRoot = spawnSync(planted, ['-u'], { timeout: 10_000 });
    expect(asRoot.error && (asRoot.error as NodeJS.ErrnoException).code).toBe('EACCES');
    const asNobody = spawnSync(planted, ['-u'], { uid: 65534, gid: 65534, timeout: 10_000 });
    expect(asNobody.error && (asNobody.error as NodeJS.ErrnoException).code).toBe('EACCES');
  });

  test('/run/hivelab and /tmp fill up to their limits (ENOSPC), charged to the instance', async () => {
    const cg = InstanceCgroup.of(instance);
    for (const [path, capMB, limitMB] of [['/run/hivelab/fill', 64, 16], ['/tmp/fill', 200, 128]] as const) {
      const before = await cg.memoryUsage();
      const r = await call({ op: 'fill', path, capMB });
      expect(r.error, path).toBe('ENOSPC');
      expect(r.written).toBeLessThanOrEqual(limitMB * MB);
      expect(r.written).toBeGreaterThan((limitMB - 2) * MB);
      // tmpfs pages are the writer's: the instance's memory cgroup carries them
      expect(await cg.memoryUsage()).toBeGreaterThan(before + (limitMB - 2) * MB);
      expect((await call({ op: 'unlink', path })).ok).toBe(true);
    }
  });

  test('/proc/self/mountinfo: no host mount beyond the layout, the run folder shows no host path', async () => {
    const text: string = (await call({ op: 'mountinfo' })).text;
    const lines = text.trim().split('\n').map((l) => l.split(' '));
    const points = lines.map((f) => f[4]!);
    const allowed = /^\/(|usr|etc|var\/task|opt\/hivelab\/runtime|node_modules|run\/hivelab|tmp|proc|dev|dev\/shm)$/;
    expect(points.filter((p) => !allowed.test(p))).toEqual([]);
    // /proc read-only as a whole (sysctls, sysrq, irq affinity, bus devices reach the host's kernel)
    expect(lines.find((f) => f[4] === '/proc')![5]!.split(',')).toContain('ro');
    const run = lines.find((f) => f[4] === '/run/hivelab')!;
    expect(run[3]).toBe('/'); // a tmpfs of its own, not a folder of the state
    // what still shows: the function folder's host path (as the bind's root); reachable it is not
    expect(lines.filter((f) => f[3]!.startsWith(t.stateDir)).map((f) => f[4])).toEqual(['/var/task']);
  });

  test('network: loopback only; the host\'s gateway is unreachable', async () => {
    const port = Number(new URL(t.platform.url).port);
    const r = await call({ op: 'network', port });
    expect(r.interfaces).toEqual(['lo']);
    expect(r.host_gateway.ok).toBe(false);
    expect(r.host_gateway.error).toBe('ECONNREFUSED');
    expect(r.outside.ok).toBe(false);
  });

  test('detached busy children stay in the instance cgroup under a CPU quota and die with it', async () => {
    const cg = InstanceCgroup.of(instance);
    const quota = Number(readFileSync(join(cg.dir('cpu'), 'cpu.cfs_quota_us'), 'utf8'));
    expect(quota).toBeGreaterThan(0);
    expect(quota).toBeLessThanOrEqual(Number(readFileSync(join(cg.dir('cpu'), 'cpu.cfs_period_us'), 'utf8')) * 2);
    await call({ op: 'spin', n: 2 });
    const spinners = await eventually(async () => {
      const pids = (await cg.pids()).filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('hivelab-hostile-spinner');
        } catch {
          return false;
        }
      });
      return pids.length === 2 ? pids : undefined;
    }, 10_000, 'the spinners in the instance cgroup');
    const cpuProcs = readFileSync(join(cg.dir('cpu'), 'cgroup.procs'), 'utf8').split('\n').map(Number);
    for (const pid of spinners) expect(cpuProcs).toContain(pid);
    expect((await t.api('DELETE', `/v1/functions/${name}`)).status).toBe(200);
    await eventually(async () => spinners.every((pid) => !existsSync(`/proc/${pid}`)), 30_000, 'the spinners to die');
    await eventually(async () => !existsSync(join(t.stateDir, 'run', instance)), 30_000, 'the run folder to go');
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(join(t.stateDir, 'run', instance));
  });

  test('the platform stays healthy: a bystander still answers', async () => {
    const r = await t.invoke('echo-node', { still: 'here' });
    expect(r.status).toBe(200);
  });
});
