import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { launcherUnavailableReason } from '../../src/sandbox/root.js';
import { eventually, removeState, startTestPlatform, type TestPlatform } from '../platform/harness.js';
import { stopInstances } from '../coldstart/helpers.js';
import { hivelab } from './cli.js';
import { busyboxLayer, makeTar, serverConfig, writeDockerArchive, writeOciLayout } from './image-builder.js';

/**
 * Image functions through the real platform: deployed with `hivelab deploy --image`, invoked through
 * the gateway cold and warm, unable to see the host's files outside the image root, and a program
 * that never listens failing its start with its log tail.
 */

const skip = launcherUnavailableReason() ?? (existsSync('/bin/busybox') ? undefined : 'busybox-static is not installed (apt-get install busybox-static)');
if (skip) console.warn(`skipping image platform tests: ${skip}`);

let t: TestPlatform;
let work: string;

beforeAll(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'hivelab-image-platform-'));
  t = await startTestPlatform();
}, 120_000);

afterAll(async () => {
  await t?.stop();
  if (t) await removeState(t.stateDir);
  if (work) rmSync(work, { recursive: true, force: true });
});

const invokeRaw = (name: string, body: string) => t.invoke(name, undefined, { raw: body, contentType: 'text/plain' });

describe.skipIf(skip)('an image function on the platform', () => {
  test('docker-archive: deployed with --image, invoked cold then warm; config honoured', async () => {
    const file = join(work, 'hello.docker.tar');
    writeDockerArchive(file, { layers: [busyboxLayer(), makeTar([{ name: 'app/', type: 'dir' }, { name: 'app/v', body: '1' }])], config: serverConfig() }, 'hello:1');
    const one = join(work, 'one.json');
    writeFileSync(one, JSON.stringify({ scaling: { maxScale: 1 } }));
    const d = await hivelab(['deploy', '--image', `docker-archive:${file}`, '--name', 'img-hello', '--memory', '128', '--timeout', '120', '--manifest', one, '--state', t.stateDir]);
    expect(d.stderr + d.stdout).toMatch(/deployed img-hello/);
    expect(d.stderr).toMatch(/layer 1\/2 [0-9a-f]{12}: unpacked \d+\.\d MB, \d+ entries/);
    expect(d.code).toBe(0);

    // the platform may have started an instance at deploy (initial scale 1, as Knative): stop it
    await stopInstances(t, 'img-hello');
    const cold = await invokeRaw('img-hello', '/');
    expect(cold.status, cold.body.toString()).toBe(200);
    expect(cold.headers['x-hivelab-cold']).toBe('1');
    const r = cold.json();
    expect(Number(r.uid)).toBeGreaterThanOrEqual(100_000); // the function's own uid, not the image's User
    expect(r).toMatchObject({ cwd: '/app', port: '9090', greeting: 'from-image', home: '/home/app', kservice: 'img-hello', secret: 'owned-by-app' });
    const warm = await invokeRaw('img-hello', '/');
    expect(warm.status).toBe(200);
    expect(warm.headers['x-hivelab-cold']).toBe('0');
    expect(warm.headers['x-hivelab-instance-id']).toBe(cold.headers['x-hivelab-instance-id']);
  }, 180_000);

  test('cannot see the host outside its image root', async () => {
    const probes = ['/etc/shadow', '/etc/hostname', '/work', '/root', t.stateDir, join(t.stateDir, 'tokens.json'), '/usr/bin/node', '/usr/lib', '/bin/busybox', '/app/handler.sh', '/opt/hivelab/node/node'];
    const r = await invokeRaw('img-hello', probes.join(' '));
    expect(r.status, r.body.toString()).toBe(200);
    // only the image's own files, and the read-only node bundle the platform's bridge runs with
    expect(r.json().seen.sort()).toEqual(['/app/handler.sh', '/bin/busybox', '/opt/hivelab/node/node'].sort());
  }, 120_000);

  test('an OCI layout: --port overrides the exposed port; settings from --manifest', async () => {
    const dir = join(work, 'layout');
    writeOciLayout(dir, { layers: [busyboxLayer()], config: serverConfig() }, 'v1');
    const settings = join(work, 'small.json');
    writeFileSync(settings, JSON.stringify({ memoryMB: 96, concurrency: 2, env: { GREETING: 'from-manifest' } }));
    const d = await hivelab(['deploy', '--image', `oci:${dir}:v1`, '--name', 'img-layout', '--port', '7777', '--timeout', '120', '--manifest', settings, '--state', t.stateDir]);
    expect(d.code, d.stderr).toBe(0);
    const r = await invokeRaw('img-layout', '/');
    expect(r.status, r.body.toString()).toBe(200);
    expect(r.json()).toMatchObject({ port: '7777', greeting: 'from-manifest' });
    const fn = (await t.api('GET', '/v1/functions/img-layout')).json();
    expect(JSON.stringify(fn)).toMatch(/"memoryMB":96/);
  }, 180_000);

  test('the deploy API refuses an image the store does not hold (400 naming image.id)', async () => {
    const dir = join(work, 'no-image');
    mkdirSync(dir, { recursive: true });
    const id = `sha256:${'c'.repeat(64)}`;
    const r = await t.api('POST', '/v1/functions', { path: dir, manifest: { name: 'img-missing', runtime: 'node', command: ['/x'], image: { id, ref: 'nowhere:1/x' } } });
    expect(r.status).toBe(400);
    expect(r.json().error.message).toMatch(/field "image\.id": image sha256:c{64} is not in this platform's image store/);
  });

  test('a program that never listens fails its start with its log tail', async () => {
    const file = join(work, 'deaf.docker.tar');
    writeDockerArchive(file, { layers: [busyboxLayer()], config: { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo "deaf program says hello on stderr" >&2; sleep 1000'] } }, 'deaf:1');
    const d = await hivelab(['deploy', '--image', file, '--name', 'img-deaf', '--timeout', '5', '--state', t.stateDir]);
    expect(d.code, d.stderr).toBe(0);
    // the invocation times out (5 s) before the start does (30 s at least): the start's failure is
    // what the control plane records for the instance
    const reply = invokeRaw('img-deaf', '/');
    const c = t.platform.control.controller('img-deaf')!;
    const inst = await eventually(async () => c.instances[0], 60_000, 'an instance of img-deaf');
    expect((await reply).status).toBeGreaterThanOrEqual(500);
    await eventually(async () => inst.state === 'dead', 150_000, 'the start to fail');
    expect(inst.exitInfo?.reason).toBe('start-failed');
    // the sandbox's readiness timeout or the worker's start deadline, whichever fires first: both name the log tail
    expect(inst.exitInfo?.detail).toMatch(/(did not become ready|did not start) within .*; log tail:\n[^]*deaf program says hello on stderr/);
  }, 180_000);
});
