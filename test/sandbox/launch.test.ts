import { describe, expect, test } from 'vitest';
import { parseManifest } from '../../src/manifest/validate.js';
import { cpuQuotaFor, cpuSharesFor } from '../../src/sandbox/cgroup.js';
import {
  SANDBOX_UID_BASE,
  buildSandboxSpec,
  encodeSandboxSpec,
  launcherStep,
  rootfsMountpoints,
  runtimeArgvFor,
  runtimeEnv,
  sandboxHostname,
  skeletonEntries,
  tmpSizeBytes,
  type SandboxLayout,
} from '../../src/sandbox/launch.js';
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
    manifest: parseManifest({ name: 'hello', runtime: 'node', handler: 'index.handler', memoryMB: 256, env: { A: '1' } }),
    functionDir: '/state/functions/hello/abc',
    runDir: '/state/run/hello-node-3f9a1c',
    logFile: '/state/logs/hello/hello-node-3f9a1c.log',
    uid: 100_007,
    ...over,
  };
}

/** Decodes the launcher's netstrings (what native/sandbox/src/spec.c reads). */
function decode(buf: Buffer): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < buf.length) {
    const colon = buf.indexOf(':', i);
    const n = Number(buf.subarray(i, colon).toString());
    out.push(buf.subarray(colon + 1, colon + 1 + n).toString('utf8'));
    expect(String.fromCharCode(buf[colon + 1 + n]!)).toBe(',');
    i = colon + 2 + n;
  }
  return out;
}

describe('sandbox spec (pure)', () => {
  test('mounts exactly the sandbox layout of the contract', () => {
    const s = buildSandboxSpec({ spec: spec(), layout, cgroupProcsFiles: ['/cg/memory/cgroup.procs'] }, '/skel');
    expect(s.root).toBe('/skel');
    expect(s.binds).toEqual([
      { src: '/usr', dst: '/usr', readonly: true },
      { src: '/etc', dst: '/etc', readonly: true },
      { src: '/state/functions/hello/abc', dst: '/var/task', readonly: true },
      { src: '/repo/dist/runtime', dst: '/opt/hivelab/runtime', readonly: true },
      { src: '/repo/node_modules', dst: '/node_modules', readonly: true },
      { src: '/state/run/hello-node-3f9a1c', dst: '/run/hivelab', readonly: false, noexec: true },
    ]);
    expect(s.tmpfs).toEqual([{ dst: '/tmp', sizeBytes: 128 * 1024 * 1024, mode: 0o1777 }]);
    expect(s.cgroupProcsFiles).toEqual(['/cg/memory/cgroup.procs']);
    expect(s.uid).toBe(100_007);
    expect(s.gid).toBe(100_007);
    expect(s.keepFd).toBe(3);
    expect(s.cwd).toBe('/var/task');
    expect(s.hostname).toBe('hello-node-3f9a1c');
    // V8's worker pool sized to the quota: 128 MB gets one vCPU
    expect(s.argv).toEqual(['/usr/bin/node', '--v8-pool-size=1', '/opt/hivelab/runtime/node/shim.cjs']);
    expect(s.rlimits.core).toBe(0);
  });

  test('an image rootfs replaces the skeleton and gets no host /usr or /etc', () => {
    const s = buildSandboxSpec({ spec: spec({ rootfs: '/images/abc/rootfs' }), layout, cgroupProcsFiles: [] }, '/skel');
    expect(s.root).toBe('/images/abc/rootfs');
    // the image owns /var/task (hivelab build puts the function there): the deploy folder is not bound
    expect(s.binds.map((b) => b.dst)).toEqual(['/opt/hivelab/runtime', '/run/hivelab']);
    expect(rootfsMountpoints().sort()).toEqual(['/dev', '/opt/hivelab/node', '/opt/hivelab/runtime', '/proc', '/run/hivelab', '/tmp']);
  });

  test('an image function: the host node bundle, the bridge through its loader, the WorkingDir, the program env apart', () => {
    const id = `sha256:${'ab'.repeat(32)}`;
    const manifest = parseManifest({
      name: 'img',
      runtime: 'node',
      command: ['/bin/server'],
      port: 9090,
      env: { A: '1' },
      image: { id, ref: 'localhost:5000/img:1', workingDir: '/app', env: { PATH: '/bin', LD_PRELOAD: '/image/lib.so', NODE_OPTIONS: '--x' } },
    });
    const s = buildSandboxSpec({ spec: spec({ manifest, rootfs: '/images/rootfs/ab-100007', version: 'v1' }), layout: { ...layout, hostNodeDir: '/var/lib/hn' }, cgroupProcsFiles: [] }, '/skel');
    expect(s.binds.map((b) => `${b.src}:${b.dst}`)).toEqual(['/repo/dist/runtime:/opt/hivelab/runtime', '/var/lib/hn:/opt/hivelab/node', '/state/run/hello-node-3f9a1c:/run/hivelab']);
    expect(s.argv).toEqual(['/opt/hivelab/node/ld.so', '--library-path', '/opt/hivelab/node', '/opt/hivelab/node/node', '--v8-pool-size=1', '/opt/hivelab/runtime/port/bridge.cjs']);
    expect(s.cwd).toBe('/app');
    // the image's LD_PRELOAD/NODE_OPTIONS reach its program only, never the bridge
    expect(s.env.LD_PRELOAD).toBeUndefined();
    expect(s.env.NODE_OPTIONS).toBeUndefined();
    const program = JSON.parse(s.env.HIVELAB_PROGRAM_ENV!);
    expect(program).toMatchObject({ PATH: '/bin', LD_PRELOAD: '/image/lib.so', A: '1', PORT: '9090', K_SERVICE: 'img', K_REVISION: 'img-v1' });
    // an image needs a command, and its id is a digest
    expect(() => parseManifest({ name: 'x', runtime: 'node', handler: 'a.b', image: { id, ref: 'r' } })).toThrow(/"command"/);
    expect(() => parseManifest({ name: 'x', runtime: 'node', command: ['/a'], image: { id: 'sha256:zz', ref: 'r' } })).toThrow(/image.id/);
  });

  test('the skeleton holds every mountpoint and the merged-/usr symlinks', () => {
    const paths = skeletonEntries(layout).map((e) => (e.kind === 'symlink' ? `${e.path}->${e.target}` : e.path));
    expect(paths.sort()).toEqual(['/bin->usr/bin', '/dev', '/etc', '/lib64->usr/lib64', '/node_modules', '/opt/hivelab/runtime', '/proc', '/run/hivelab', '/tmp', '/usr', '/var/task']);
  });

  test('no uid given: the first uid of the range, never root', () => {
    const s = buildSandboxSpec({ spec: spec({ uid: undefined }), layout, cgroupProcsFiles: [] }, '/skel');
    expect(s.uid).toBe(SANDBOX_UID_BASE);
    expect(s.gid).toBe(SANDBOX_UID_BASE);
  });

  test('python and replaced commands', () => {
    const py = spec({ manifest: parseManifest({ name: 'p', runtime: 'python', handler: 'main.handler' }) });
    expect(buildSandboxSpec({ spec: py, layout, cgroupProcsFiles: [] }, '/r').argv).toEqual(['/usr/bin/python3', '/opt/hivelab/runtime/python/shim.py']);
    expect(buildSandboxSpec({ spec: py, layout, cgroupProcsFiles: [], runtimeArgv: ['/usr/bin/true', ''] }, '/r').argv).toEqual(['/usr/bin/true', '']);
  });

  test('encoding: netstrings in the launcher order, any byte but NUL survives', () => {
    const s = buildSandboxSpec(
      { spec: spec({ env: { MULTI: 'a\nb,c:1' } }), layout, cgroupProcsFiles: ['/cg/a', '/cg/b'], runtimeArgv: ['/bin/sh', '-c', ''] },
      '/skel',
    );
    const items = decode(encodeSandboxSpec(s));
    expect(items.slice(0, 6)).toEqual(['cgroup', '/cg/a', 'cgroup', '/cg/b', 'root', '/skel']);
    expect(items.slice(6, 10)).toEqual(['bind', '/usr', '/usr', 'ro']);
    const runBind = items.indexOf('/run/hivelab');
    expect(items[runBind + 1]).toBe('rw,noexec');
    expect(items.slice(items.indexOf('tmpfs'), items.indexOf('tmpfs') + 5)).toEqual(['tmpfs', '/tmp', String(128 * 1024 * 1024), '1777', '']);
    expect(items).toContain('MULTI=a\nb,c:1');
    const args = items.flatMap((x, i) => (x === 'arg' ? [items[i + 1]] : []));
    expect(args).toEqual(['/bin/sh', '-c', '']);
    expect(items.slice(items.indexOf('uid'), items.indexOf('uid') + 4)).toEqual(['uid', '100007', 'gid', '100007']);
    expect(() => encodeSandboxSpec({ ...s, argv: ['/bin/x\0y'] })).toThrow(/NUL/);
  });

  test('launcher exit codes name their step; a runtime exit code does not', () => {
    expect(launcherStep(117)).toBe('switching to the function uid');
    expect(launcherStep(119)).toBe('installing seccomp');
    expect(launcherStep(3)).toBeUndefined();
    expect(launcherStep(null)).toBeUndefined();
  });

  test('environment: the contract variables win over the manifest, spec.env over both, no host leaks', () => {
    const env = runtimeEnv(spec({ env: { EXTRA: 'y', NODE_EXTRA_CA_CERTS: '/x.pem', HIVELAB_SOCKET: '/set-by-worker' } }));
    expect(env.HIVELAB_SOCKET).toBe('/set-by-worker');
    expect(env.HIVELAB_SIDECAR).toBe('/run/hivelab/qp.sock');
    expect(env.HIVELAB_READY_FD).toBe('3');
    expect(env.HIVELAB_MEMORY_MB).toBe('256');
    expect(env.HIVELAB_HANDLER).toBe('index.handler');
    expect(env.A).toBe('1');
    expect(env.EXTRA).toBe('y');
    expect(env.NODE_EXTRA_CA_CERTS).toBeUndefined();
    expect(env.GLIBC_TUNABLES).toContain('glibc.malloc.mmap_max=0');
    // one arena for a Python handler's threads only (the shim's thread per connection)
    expect(env.GLIBC_TUNABLES).not.toContain('arena_max');
    const python = parseManifest({ name: 'hello', runtime: 'python', handler: 'main.handler', memoryMB: 256 });
    expect(runtimeEnv(spec({ manifest: python })).GLIBC_TUNABLES).toContain('glibc.malloc.arena_max=1');
    // Lambda's reserved variables (src/sandbox/lambda-env.ts) are the platform's, not the host's.
    const lambda = /^(AWS_REGION|AWS_DEFAULT_REGION|AWS_EXECUTION_ENV|AWS_LAMBDA_[A-Z_]+|LAMBDA_TASK_ROOT|LAMBDA_RUNTIME_DIR|_HANDLER|TZ)$/;
    expect(Object.keys(env).filter((k) => !lambda.test(k) && !/^(HIVELAB_|PYTHON|PATH$|HOME$|TMPDIR$|LANG$|GLIBC_TUNABLES$|A$|EXTRA$)/.test(k))).toEqual([]);
    expect(Object.keys(env).filter((k) => /^AWS_(ACCESS|SECRET|SESSION)/.test(k))).toEqual([]); // no credentials, ever
    // the platform itself (spec.env) may still tune malloc
    expect(runtimeEnv(spec({ env: { GLIBC_TUNABLES: 'glibc.malloc.arena_max=1' } })).GLIBC_TUNABLES).toBe('glibc.malloc.arena_max=1');
  });

  test('hostname, cpu shares, cpu quota, /tmp size', () => {
    expect(sandboxHostname('Hello_Node.1')).toBe('hello-node-1');
    expect(sandboxHostname('x'.repeat(100))).toHaveLength(63);
    expect(cpuSharesFor(1769)).toBe(1024);
    expect(cpuSharesFor(128)).toBe(74);
    expect(cpuSharesFor(1)).toBe(2);
    expect(cpuSharesFor(3538)).toBe(2048);
    // a vCPU at least, the Lambda share above 1769 MB, a custom floor
    expect(cpuQuotaFor(128)).toBe(100_000);
    expect(cpuQuotaFor(3538)).toBe(200_000);
    expect(cpuQuotaFor(128, 0.5)).toBe(50_000);
    expect(cpuQuotaFor(128, 0)).toBe(Math.round((128 / 1769) * 100_000));
    expect(cpuQuotaFor(1, 0)).toBe(1000);
    expect(tmpSizeBytes(128)).toBe(64 * 1024 * 1024);
    expect(tmpSizeBytes(16)).toBe(16 * 1024 * 1024);
  });
});

describe('launch plan for launchers without a mount namespace', () => {
  test('host paths for the shim, task root and sockets', () => {
    expect(runtimeArgvFor('node', '/repo/dist/runtime')).toEqual(['/usr/bin/node', '--v8-pool-size=1', '/repo/dist/runtime/node/shim.cjs']);
    // 3 GB is 1.7 vCPUs of quota: two workers
    expect(runtimeArgvFor('node', '/repo/dist/runtime', 3072 / 1769)).toContain('--v8-pool-size=2');
    expect(runtimeArgvFor('python', '/repo/dist/runtime')).toEqual(['/usr/bin/python3', '/repo/dist/runtime/python/shim.py']);
    const env = runtimeEnv(spec(), { taskRoot: '/state/functions/hello/abc', runDir: '/state/run/x' });
    expect(env.HIVELAB_TASK_ROOT).toBe('/state/functions/hello/abc');
    expect(env.HIVELAB_SOCKET).toBe('/state/run/x/fn.sock');
    expect(env.HIVELAB_SIDECAR).toBe('/state/run/x/qp.sock');
  });
});
