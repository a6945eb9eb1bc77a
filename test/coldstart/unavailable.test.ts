import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, removeState, startTestPlatform, type TestPlatform } from '../platform/harness.js';
import { instanceRecord } from './helpers.js';

/**
 * Where snapshots cannot work (here: no CRIU binary where HIVELAB_CRIU points), a function asking
 * for a snapshot mode boots, and the platform says so everywhere a person looks. Runs on every
 * machine: it needs no CRIU.
 */

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../../bin/hivelab.js');

describe('a platform where snapshots cannot work', () => {
  let tp: TestPlatform;
  const saved = process.env.HIVELAB_CRIU;

  beforeAll(async () => {
    process.env.HIVELAB_CRIU = '/nonexistent/hivelab-test/criu';
    tp = await startTestPlatform({ coldStart: 'reap', workers: 1, dataServices: false });
    expect((await tp.deploy(join(FIXTURES, 'echo-node'))).status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await tp?.stop();
    if (tp) await removeState(tp.stateDir);
    if (saved === undefined) delete process.env.HIVELAB_CRIU;
    else process.env.HIVELAB_CRIU = saved;
  }, 60_000);

  it('boots functions that ask for a snapshot mode', async () => {
    const r = await tp.invoke('echo-node', { hello: 1 });
    expect(r.status, r.body.toString()).toBe(200);
    const inst = tp.platform.control.controller('echo-node')!.instances.find((i) => i.state !== 'dead');
    expect(instanceRecord(tp, 'echo-node', inst!.id)?.mode).toBe('boot');
  });

  it('says why in GET /v1/status, per function in GET /v1/functions, and on the dashboard', async () => {
    const status = (await tp.api('GET', '/v1/status')).json();
    expect(status.snapshots.available).toBe(false);
    expect(status.snapshots.reason).toMatch(/CRIU binary not found at \/nonexistent\/hivelab-test\/criu/);
    const fn = status.functions.find((f: { name: string }) => f.name === 'echo-node');
    expect(fn.coldStart).toMatchObject({ configured: 'reap', mode: 'boot' });
    expect(fn.coldStart.fallback).toMatch(/^reap unavailable: CRIU binary not found/);

    const listed = (await tp.api('GET', '/v1/functions')).json().functions[0];
    expect(listed.coldStart).toMatchObject({ configured: 'reap', mode: 'boot' });

    const dash = (await tp.api('GET', '/v1/dashboard/state')).json();
    expect(dash.snapshots).toMatchObject({ available: false });
    const panel = dash.functions.find((f: { name: string }) => f.name === 'echo-node');
    expect(panel.coldStartMode).toBe('reap→boot');
    expect(panel.coldStartFallback).toMatch(/CRIU binary not found/);
  });

  it('hivelab status and ls print the reason', async () => {
    const status = await run(process.execPath, [BIN, 'status', '--state', tp.stateDir], { timeout: 60_000 });
    expect(status.stdout).toMatch(/snapshots: unavailable here \(CRIU binary not found/);
    expect(status.stdout).toMatch(/echo-node\s+reap→boot/);
    expect(status.stdout).toMatch(/echo-node: boots \(reap unavailable: CRIU binary not found/);
    const ls = await run(process.execPath, [BIN, 'ls', '--state', tp.stateDir], { timeout: 60_000 });
    expect(ls.stdout).toMatch(/reap→boot/);
    expect(ls.stdout).toMatch(/echo-node: boots \(reap unavailable/);
  });

  it('hivelab coldstart skips the snapshot modes, says why, and fails when nothing was left to measure', async () => {
    const r = await run(process.execPath, [BIN, 'coldstart', '--functions', join(FIXTURES, 'echo-node'), '--modes', 'reap', '--iterations', '1', '--cache', 'warm', '--json'], {
      timeout: 120_000,
      env: { ...process.env, HIVELAB_CRIU: '/nonexistent/hivelab-test/criu' },
    }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect((r as { code?: number }).code).toBe(1);
    expect(r.stderr).toMatch(/snapshots unavailable on this machine \(CRIU binary not found.*\): reap not measured/);
    const report = JSON.parse(r.stdout);
    expect(report.skippedModes).toEqual(['reap']);
    expect(report.snapshots.available).toBe(false);
  }, 150_000);
});
