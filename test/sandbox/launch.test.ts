import { describe, expect, test } from 'vitest';
import { parseManifest } from '../../src/manifest/validate.js';
import { cpuSharesFor } from '../../src/sandbox/cgroup.js';
import { buildLaunch, runtimeArgvFor, runtimeEnv, sandboxHostname, type SandboxLayout } from '../../src/sandbox/launch.js';
import type { InstanceSpec } from '../../src/sandbox/backend.js';

const layout: SandboxLayout = {
  runtimeDir: '/repo/dist/runtime',
  nodeModulesDir: '/repo/node_modules',
  systemRoots: [
    { path: '/usr', kind: 'dir' },
    { path: '/bin', kind: 'symlink', target: 'usr/bin' },
    { path: '/lib64', kind: 'symlink', target: 'usr/lib64' },
    { path: '/etc', kind: 'dir' },
  ],
};

function spec(over: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    instanceId: 'hello-node-3f9a1c',
    manifest: parseManifest({ name: 'hello', runtime: 'node', handler: 'index.handler', memoryMB: 256, env: { A: '1', HIVELAB_SOCKET: '/evil' } }),
    functionDir: '/state/functions/hello/abc',
    runDir: '/state/run/hello-node-3f9a1c',
    logFile: '/state/logs/hello/hello-node-3f9a1c.log',
    ...over,
  };
}

/** Pairs `--flag a b` of a bwrap argument list, e.g. all `--ro-bind` sources and targets. */
function pairs(args: string[], flag: string): [string, string][] {
  const out: [string, string][] = [];
  args.forEach((a, i) => a === flag && out.push([args[i + 1]!, args[i + 2]!]));
  return out;
}

describe('launch plan (pure)', () => {
  test('mounts exactly the sandbox layout of the contract', () => {
    const { bwrapArgs } = buildLaunch({ spec: spec(), layout, cgroupProcsFiles: [] });
    expect(pairs(bwrapArgs, '--ro-bind')).toEqual([
      ['/usr', '/usr'],
      ['/etc', '/etc'],
      ['/state/functions/hello/abc', '/var/task'],
      ['/repo/dist/runtime', '/opt/hivelab/runtime'],
      ['/repo/node_modules', '/node_modules'],
    ]);
    expect(pairs(bwrapArgs, '--bind')).toEqual([['/state/run/hello-node-3f9a1c', '/run/hivelab']]);
    expect(pairs(bwrapArgs, '--symlink')).toEqual([['usr/bin', '/bin'], ['usr/lib64', '/lib64']]);
    for (const flag of ['--unshare-pid', '--unshare-net', '--unshare-ipc', '--unshare-uts', '--as-pid-1', '--die-with-parent', '--new-session']) {
      expect(bwrapArgs).toContain(flag);
    }
    expect(bwrapArgs).not.toContain('--unshare-user'); // CRIU was verified without a user namespace
    expect(bwrapArgs.slice(bwrapArgs.indexOf('--cap-drop'), bwrapArgs.indexOf('--cap-drop') + 2)).toEqual(['--cap-drop', 'ALL']);
    expect(bwrapArgs.slice(bwrapArgs.indexOf('--') + 1)).toEqual(['/usr/bin/node', '/opt/hivelab/runtime/node/shim.cjs']);
  });

  test('the launcher joins every cgroup before exec-ing bwrap', () => {
    const plan = buildLaunch({ spec: spec(), layout, cgroupProcsFiles: ['/cg/memory/x/cgroup.procs', '/cg/pids/x/cgroup.procs'] });
    expect(plan.command).toBe('/bin/sh');
    const sep = plan.args.indexOf('--');
    expect(plan.args.slice(3, sep)).toEqual(['/cg/memory/x/cgroup.procs', '/cg/pids/x/cgroup.procs']);
    expect(plan.args[sep + 1]).toBe('/usr/bin/bwrap');
    expect(plan.args.slice(sep + 2)).toEqual(plan.bwrapArgs);
  });

  test('python runtime and a replaced runtime command', () => {
    const py = spec({ manifest: parseManifest({ name: 'p', runtime: 'python', handler: 'main.handler' }) });
    const { bwrapArgs } = buildLaunch({ spec: py, layout, cgroupProcsFiles: [] });
    expect(bwrapArgs.slice(bwrapArgs.indexOf('--') + 1)).toEqual(['/usr/bin/python3', '/opt/hivelab/runtime/python/shim.py']);
    const bare = buildLaunch({ spec: py, layout, cgroupProcsFiles: [], runtimeArgv: ['/usr/bin/true'] });
    expect(bare.bwrapArgs.slice(bare.bwrapArgs.indexOf('--') + 1)).toEqual(['/usr/bin/true']);
  });

  test('environment: the contract variables win over the manifest, spec.env over both, no host leaks', () => {
    const env = runtimeEnv(spec({ env: { EXTRA: 'y', NODE_EXTRA_CA_CERTS: '/x.pem' } }));
    expect(env.HIVELAB_SOCKET).toBe('/run/hivelab/fn.sock');
    expect(env.HIVELAB_SIDECAR).toBe('/run/hivelab/qp.sock');
    expect(env.HIVELAB_READY_FD).toBe('3');
    expect(env.HIVELAB_MEMORY_MB).toBe('256');
    expect(env.HIVELAB_HANDLER).toBe('index.handler');
    expect(env.A).toBe('1');
    expect(env.EXTRA).toBe('y');
    expect(env.NODE_EXTRA_CA_CERTS).toBeUndefined();
    expect(env.GLIBC_TUNABLES).toContain('glibc.malloc.mmap_max=0');
    // Lambda's reserved variables (src/sandbox/lambda-env.ts) are the platform's, not the host's.
    const lambda = /^(AWS_REGION|AWS_DEFAULT_REGION|AWS_EXECUTION_ENV|AWS_LAMBDA_[A-Z_]+|LAMBDA_TASK_ROOT|LAMBDA_RUNTIME_DIR|_HANDLER|TZ)$/;
    expect(Object.keys(env).filter((k) => !lambda.test(k) && !/^(HIVELAB_|PYTHON|PATH$|HOME$|TMPDIR$|LANG$|GLIBC_TUNABLES$|A$|EXTRA$)/.test(k))).toEqual([]);
    expect(Object.keys(env).filter((k) => /^AWS_(ACCESS|SECRET|SESSION)/.test(k))).toEqual([]); // no credentials, ever
    // a function may set its own malloc tuning
    expect(runtimeEnv(spec({ env: { GLIBC_TUNABLES: 'glibc.malloc.arena_max=1' } })).GLIBC_TUNABLES).toBe('glibc.malloc.arena_max=1');
  });

  test('hostname and cpu shares', () => {
    expect(sandboxHostname('Hello_Node.1')).toBe('hello-node-1');
    expect(sandboxHostname('x'.repeat(100))).toHaveLength(63);
    expect(cpuSharesFor(1769)).toBe(1024);
    expect(cpuSharesFor(128)).toBe(74);
    expect(cpuSharesFor(1)).toBe(2);
    expect(cpuSharesFor(3538)).toBe(2048);
  });
});

describe('launch plan for launchers without a mount namespace', () => {
  test('host paths for the shim, task root and sockets', () => {
    expect(runtimeArgvFor('node', '/repo/dist/runtime')).toEqual(['/usr/bin/node', '/repo/dist/runtime/node/shim.cjs']);
    expect(runtimeArgvFor('python', '/repo/dist/runtime')).toEqual(['/usr/bin/python3', '/repo/dist/runtime/python/shim.py']);
    const env = runtimeEnv(spec(), { taskRoot: '/state/functions/hello/abc', runDir: '/state/run/x' });
    expect(env.HIVELAB_TASK_ROOT).toBe('/state/functions/hello/abc');
    expect(env.HIVELAB_SOCKET).toBe('/state/run/x/fn.sock');
    expect(env.HIVELAB_SIDECAR).toBe('/state/run/x/qp.sock');
  });
});
