import { existsSync, readFileSync, writeFileSync, mkdirSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SandboxStartError, type SandboxInstance } from '../../src/sandbox/backend.js';
import { cpuSharesFor } from '../../src/sandbox/cgroup.js';
import { ProcessBackend, type ProcessInstance } from '../../src/sandbox/process-backend.js';
import { buildRuntime, FIXTURES, fixtureSpec, invokeJson, makeTempDir, processesMentioning, removeDir } from './helpers.js';

// The process backend with real bubblewrap and real cgroups (needs root).
let work: string;
let backend: ProcessBackend;
const started: SandboxInstance[] = [];

async function start(fixture: string, overrides: Record<string, unknown> = {}) {
  const spec = fixtureSpec(fixture, work, overrides);
  const inst = await backend.start(spec);
  started.push(inst);
  return { inst, spec };
}

function cgroupDirs(instanceId: string): string[] {
  return ['memory', 'cpu', 'cpuacct', 'pids'].map((c) => `/sys/fs/cgroup/${c}/hivelab/${instanceId}`);
}

beforeAll(() => {
  work = makeTempDir('process-backend');
  backend = new ProcessBackend({ runtimeDir: buildRuntime(join(work, 'dist')) });
});

afterAll(async () => {
  for (const inst of started) await inst.stop(0);
  removeDir(work);
});

describe('process backend: isolation', () => {
  let probe: Record<string, any>;
  let inst: SandboxInstance;

  beforeAll(async () => {
    ({ inst } = await start('sandbox-node-hello'));
    const r = await invokeJson(inst.socketPath, { op: 'probe' });
    expect(r.status).toBe(200);
    probe = r.json();
  });

  test('own PID namespace with the runtime as PID 1', () => {
    expect(probe.pid).toBe(1);
    expect(Number(probe.processes)).toBeLessThan(10); // a handful: node, the probe's sh/ls/grep/wc
    const init = (inst as ProcessInstance).initPid;
    expect(init).toBeGreaterThan(1);
    expect(readFileSync(`/proc/${init}/cmdline`, 'utf8')).toContain('/opt/hivelab/runtime/node/shim.cjs');
  });

  test('own UTS and network namespace: other hostname, loopback only', () => {
    expect(probe.hostname).not.toBe(readFileSync('/proc/sys/kernel/hostname', 'utf8').trim());
    const ifaces = (probe.netdev as string).split('\n').slice(2).filter(Boolean).map((l) => l.split(':')[0]!.trim());
    expect(ifaces).toEqual(['lo']);
  });

  test('minimal read-only filesystem: host folders invisible, task root read-only, /tmp private', () => {
    expect(probe.visible['/work']).toBe(false);
    expect(probe.visible['/root']).toBe(false);
    expect(probe.visible['/home']).toBe(false);
    expect(probe.visible['/var/task']).toBe(true);
    expect(probe.visible['/node_modules/zod']).toBe(true);
    expect(probe.visible['/opt/hivelab/runtime/node/shim.cjs']).toBe(true);
    expect(probe.canWriteTask).toBe(false);
    expect(probe.canWriteEtc).toBe(false);
    expect(probe.canWriteTmp).toBe(true);
    expect(probe.shadowReadable).toBe(false);
    expect(existsSync(join(FIXTURES, 'sandbox-node-hello', 'x'))).toBe(false);
  });

  test('no capabilities and a clean environment', () => {
    expect(probe.capEff).toBe('0000000000000000');
    expect(probe.env).not.toContain('NODE_EXTRA_CA_CERTS');
    expect(probe.env).toEqual(expect.arrayContaining(['HIVELAB_SOCKET', 'HIVELAB_SIDECAR', 'HIVELAB_HANDLER', 'HIVELAB_FUNCTION', 'HIVELAB_INSTANCE', 'HIVELAB_MEMORY_MB', 'HIVELAB_TIMEOUT_MS', 'HIVELAB_READY_FD', 'GREETING']));
    expect(probe.env.filter((k: string) => k.startsWith('HL_'))).toEqual([]);
  });

  test('cgroup limits are set and usage is reported', async () => {
    const [mem, cpu, , pids] = cgroupDirs(inst.instanceId);
    expect(Number(readFileSync(join(mem!, 'memory.limit_in_bytes'), 'utf8'))).toBe(128 * 1024 * 1024);
    expect(Number(readFileSync(join(cpu!, 'cpu.shares'), 'utf8'))).toBe(cpuSharesFor(128));
    expect(readFileSync(join(pids!, 'pids.max'), 'utf8').trim()).toBe('512');
    // The launcher, bwrap and the runtime are all inside, from the start.
    const members = readFileSync(join(mem!, 'cgroup.procs'), 'utf8').trim().split('\n').map(Number);
    expect(members).toContain(inst.pid);
    expect(members).toContain((inst as ProcessInstance).initPid);
    expect(await inst.memoryUsage()).toBeGreaterThan(1024 * 1024);
    expect(inst.timings.startMs).toBeGreaterThan(0);
    expect(inst.timings.startCpuMs).toBeGreaterThan(0);
    expect(await (inst as ProcessInstance).cpuUsageMs()).toBeGreaterThanOrEqual(inst.timings.startCpuMs!);
  });
});

describe('process backend: lifecycle', () => {
  test('stop() leaves no process and no cgroup behind, and is idempotent', async () => {
    const { inst, spec } = await start('sandbox-python-hello');
    const init = (inst as ProcessInstance).initPid!;
    expect(processesMentioning(spec.instanceId).length).toBeGreaterThan(0);
    const info = await inst.stop();
    expect(info.reason).toBe('stopped');
    expect(await inst.stop()).toEqual(info);
    expect(await inst.exited).toEqual(info);
    expect(existsSync(`/proc/${inst.pid}`)).toBe(false);
    expect(existsSync(`/proc/${init}`)).toBe(false);
    expect(processesMentioning(spec.instanceId)).toEqual([]);
    for (const d of cgroupDirs(inst.instanceId)) expect(existsSync(d)).toBe(false);
  });

  test('stop() kills a runtime that ignores SIGTERM after the grace period', async () => {
    const stubborn = new ProcessBackend({
      runtimeDir: backend.layout.runtimeDir,
      runtimeArgv: () => ['/bin/sh', '-c', 'trap "" TERM; echo ready >&3; exec 3>&-; while :; do sleep 1; done'],
    });
    const spec = fixtureSpec('sandbox-node-hello', work);
    const inst = await stubborn.start(spec);
    started.push(inst);
    const info = await inst.stop(300);
    expect(info.reason).toBe('stopped');
    expect(processesMentioning(spec.instanceId)).toEqual([]);
    for (const d of cgroupDirs(inst.instanceId)) expect(existsSync(d)).toBe(false);
  });

  test('a handler allocating beyond memoryMB is killed with reason oom', async () => {
    const { inst } = await start('sandbox-node-hello', { memoryMB: 64 });
    await invokeJson(inst.socketPath, { op: 'alloc', mb: 256 }).catch(() => undefined); // connection dies
    const info = await inst.exited;
    expect(info.reason).toBe('oom');
    for (const d of cgroupDirs(inst.instanceId)) expect(existsSync(d)).toBe(false);
  });

  test('python: allocating beyond memoryMB is oom too', async () => {
    const { inst } = await start('sandbox-python-hello', { memoryMB: 48 });
    await invokeJson(inst.socketPath, { op: 'alloc', mb: 200 }).catch(() => undefined);
    expect((await inst.exited).reason).toBe('oom');
  });

  test('a handler calling process.exit gives crash, with the log tail', async () => {
    const { inst } = await start('sandbox-node-hello');
    await invokeJson(inst.socketPath, { op: 'exit' });
    const info = await inst.exited;
    expect(info.reason).toBe('crash');
    expect(info.code).toBe(3);
    for (const d of cgroupDirs(inst.instanceId)) expect(existsSync(d)).toBe(false);
  });

  test('python: sys.exit in a handler ends the instance as a crash', async () => {
    const { inst } = await start('sandbox-python-hello');
    await invokeJson(inst.socketPath, { op: 'exit' }).catch(() => undefined);
    const info = await inst.exited;
    expect(info.reason).toBe('crash');
    expect(info.code).toBe(3);
    expect(info.detail).toContain('sys.exit(3)');
  });

  test('output goes to the log file (appended)', async () => {
    const fnDir = join(work, 'fn-logs');
    mkdirSync(fnDir, { recursive: true });
    cpSync(join(FIXTURES, 'sandbox-node-hello', 'function.json'), join(fnDir, 'function.json'));
    writeFileSync(join(fnDir, 'index.mjs'), 'console.log("loaded-marker");\nexport const handler = (e) => { console.error("stderr-marker"); return e; };\n');
    const spec = fixtureSpec('sandbox-node-hello', work);
    spec.functionDir = fnDir;
    mkdirSync(join(work, 'logs'), { recursive: true });
    writeFileSync(spec.logFile, 'previous line\n');
    const inst = await backend.start(spec);
    started.push(inst);
    await invokeJson(inst.socketPath, { x: 1 });
    await inst.stop();
    const log = readFileSync(spec.logFile, 'utf8');
    expect(log.startsWith('previous line\n')).toBe(true);
    expect(log).toContain('loaded-marker');
    expect(log).toContain('stderr-marker');
  });

  test('a handler that cannot be loaded fails the start with the log tail', async () => {
    const spec = fixtureSpec('sandbox-node-hello', work, { handler: 'missing.handler' });
    const err = await backend.start(spec).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxStartError);
    expect((err as SandboxStartError).message).toContain('handler module "missing" not found');
    expect((err as SandboxStartError).detail).toContain('/var/task/missing.mjs');
    for (const d of cgroupDirs(spec.instanceId)) expect(existsSync(d)).toBe(false);
    expect(processesMentioning(spec.instanceId)).toEqual([]);
  });

  test('a python import error fails the start with the traceback', async () => {
    const spec = fixtureSpec('sandbox-python-hello', work, { handler: 'nosuchmodule.handler' });
    const err = (await backend.start(spec).catch((e: unknown) => e)) as SandboxStartError;
    expect(err).toBeInstanceOf(SandboxStartError);
    expect(err.detail).toContain('ModuleNotFoundError');
  });

  test('a runtime that never becomes ready is stopped at the start timeout', async () => {
    const slow = new ProcessBackend({
      runtimeDir: backend.layout.runtimeDir,
      runtimeArgv: () => ['/usr/bin/sleep', '600'],
      startTimeoutMs: 1500,
    });
    const spec = fixtureSpec('sandbox-node-hello', work);
    const err = (await slow.start(spec).catch((e: unknown) => e)) as SandboxStartError;
    expect(err).toBeInstanceOf(SandboxStartError);
    expect(err.message).toContain('did not become ready within 1500 ms');
    for (const d of cgroupDirs(spec.instanceId)) expect(existsSync(d)).toBe(false);
    expect(processesMentioning(spec.instanceId)).toEqual([]);
  });
});
