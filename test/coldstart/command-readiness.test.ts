import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { FIXTURES, removeState, startTestPlatform, type TestPlatform } from '../platform/harness.js';
import { instanceRecord, snapshotsUnavailable, stopInstances } from './helpers.js';

/**
 * A restored `command` instance is handed out only when its program is alive and its port answers
 * (src/runtime/port/readiness.cts). The fixture's program exits on its first connection after a
 * restore (it sees the clone's own hostname): the readiness probe, which reaches the program's port
 * through the bridge, is that connection. The restore must fail before any request reaches the
 * clone, the worker log must say why, and the request must be answered by a booted instance: never
 * a 502 (the program dying under the request), never a hang. (In reap mode the first restore's
 * record-phase invocation used to catch it by accident; the probe now does, before it.)
 */

const unavailable = await snapshotsUnavailable('command readiness tests');

let t: TestPlatform;
let work: string;

beforeAll(async () => {
  if (unavailable) return;
  work = mkdtempSync(join(tmpdir(), 'hivelab-cmdready-'));
  t = await startTestPlatform({ workers: 1 });
}, 120_000);

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  await t?.stop();
  if (t) await removeState(t.stateDir);
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

describe.skipIf(unavailable !== null).each(['snapshot', 'lazy', 'reap', 'criu-lazy'] as const)('a command function whose program dies after a restore, in cold-start mode %s', (mode) => {
  const name = `restore-dies-${mode}`;

  test('the restored clone is never handed out: the request is served by a boot, and the worker log says why', async () => {
    const dir = join(work, name);
    cpSync(join(FIXTURES, 'restore-dies-python'), dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'function.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'function.json'), JSON.stringify({ ...manifest, name, coldStart: mode, scaling: { maxScale: 1 } }));
    expect((await t.deploy(dir)).status).toBe(201);

    // the deploy's instance boots, is warmed up and dumped, and serves on: its hostname never changes
    const first = await t.invoke(name, {});
    expect(first.status, first.body.toString()).toBe(200);
    expect(instanceRecord(t, name, first.headers['x-hivelab-instance-id']!)?.mode).toBe('boot');
    expect(readdirSync(join(t.stateDir, 'snapshots', name)).length).toBe(1);

    await stopInstances(t, name);
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void errors.push(args.join(' ')));
    const r = await t.invoke(name, {});
    expect(r.status, r.body.toString()).toBe(200);
    expect(instanceRecord(t, name, r.headers['x-hivelab-instance-id']!)?.mode).toBe('boot');
    const why = errors.find((l) => l.includes(`${name}: ${mode} restore of`));
    expect(why, errors.join('\n')).toMatch(/failed, booting instead: restored command instance: .*the program/);
  }, 300_000);
});

describe.skipIf(unavailable !== null)('a command function no restore of which survives', () => {
  test('its snapshot is taken anew after 3 failed restores in a row, and after 3 more the version only boots', async () => {
    const name = 'restore-dies-always';
    const dir = join(work, name);
    cpSync(join(FIXTURES, 'restore-dies-python'), dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'function.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'function.json'), JSON.stringify({ ...manifest, name, coldStart: 'snapshot', scaling: { maxScale: 1 } }));
    expect((await t.deploy(dir)).status).toBe(201);
    const logs: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void logs.push(args.join(' ')));
    vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => void logs.push(args.join(' ')));
    const snapshots = () => readdirSync(join(t.stateDir, 'snapshots', name)).length;
    const takenAt = () => readdirSync(join(t.stateDir, 'snapshots', name)).map((v) => (JSON.parse(readFileSync(join(t.stateDir, 'snapshots', name, v, 'meta.json'), 'utf8')) as { createdAt: string }).createdAt)[0];
    const restores = () => logs.filter((l) => l.includes(`${name}: snapshot restore of`)).length;
    const coldStart = async () => {
      await stopInstances(t, name);
      const r = await t.invoke(name, {});
      expect(r.status, r.body.toString()).toBe(200); // every request served, by a boot
    };
    await coldStart(); // the first instance: booted, warmed up and dumped
    expect(snapshots()).toBe(1);
    const first = takenAt();
    for (let i = 0; i < 3; i++) await coldStart();
    expect(restores()).toBe(3);
    await expect.poll(() => logs.some((l) => l.includes(`${name}@`) && l.includes('snapshot deleted')), { timeout: 10_000 }).toBe(true);
    await coldStart(); // no snapshot: boots and takes a new one
    await expect.poll(snapshots, { timeout: 30_000 }).toBe(1);
    expect(takenAt()).not.toBe(first); // a new one, not the old one kept
    for (let i = 0; i < 3; i++) await coldStart();
    expect(restores()).toBe(6);
    await expect.poll(() => logs.some((l) => l.includes('this version boots from now on')), { timeout: 10_000 }).toBe(true);
    await coldStart();
    await coldStart();
    expect(restores()).toBe(6); // not tried again
  }, 300_000);
});
