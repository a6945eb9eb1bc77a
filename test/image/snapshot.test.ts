import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { removeState, startTestPlatform, type TestPlatform } from '../platform/harness.js';
import { instanceRecord, snapshotsUnavailable, stopInstances } from '../coldstart/helpers.js';
import { hivelab } from './cli.js';
import { busyboxLayer, serverConfig, writeDockerArchive } from './image-builder.js';

/**
 * Image instances in the snapshot modes: the first cold start boots and is dumped, the next ones are
 * CRIU restores whose root is the image's (a read-only bind of the assembled root as `--root`, the
 * platform's binds — the function folder, the runtimes, the host node bundle, the run folder — as
 * external mounts). A restored clone still serves and still cannot see the host.
 */

const MODES = ['snapshot', 'lazy', 'reap'] as const;
const unavailable = await snapshotsUnavailable('image snapshot tests');

let t: TestPlatform;
let work: string;
let archive: string;

beforeAll(async () => {
  if (unavailable) return;
  work = mkdtempSync(join(tmpdir(), 'hivelab-image-snap-'));
  archive = join(work, 'hello.tar');
  writeDockerArchive(archive, { layers: [busyboxLayer()], config: serverConfig() }, 'hello:1');
  writeFileSync(join(work, 'one.json'), JSON.stringify({ scaling: { maxScale: 1 } }));
  t = await startTestPlatform({ workers: 1 });
}, 120_000);

afterAll(async () => {
  await t?.stop();
  if (t) await removeState(t.stateDir);
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

describe.skipIf(unavailable !== null).each(MODES)('an image function in cold-start mode %s', (mode) => {
  const name = `img-${mode}`;
  const cold = async (body = '/') => {
    await stopInstances(t, name);
    const r = await t.invoke(name, undefined, { raw: body, contentType: 'text/plain' });
    expect(r.status, r.body.toString()).toBe(200);
    const id = r.headers['x-hivelab-instance-id']!;
    return { json: r.json(), mode: instanceRecord(t, name, id)?.mode };
  };

  test('boots and is dumped, then restores with the image as its root', async () => {
    const d = await hivelab(['deploy', '--image', archive, '--name', name, '--cold-start', mode, '--timeout', '120', '--manifest', join(work, 'one.json'), '--state', t.stateDir]);
    expect(d.code, d.stderr).toBe(0);
    // the first start boots and dumps: the one this invocation makes, or the instance the deploy
    // started (initial scale 1) if it got there first
    await cold();
    expect(readdirSync(join(t.stateDir, 'snapshots', name)).length).toBe(1);
    const restored = await cold(['/etc/shadow', '/work', t.stateDir, join(t.stateDir, 'tokens.json'), '/app/handler.sh'].join(' '));
    // the clone serves and keeps every wall, whichever way it came to be
    expect(restored.json).toMatchObject({ cwd: '/app', greeting: 'from-image', secret: 'owned-by-app', seen: ['/app/handler.sh'] });
    // lazy and reap restores serve each task (the bridge, PID 1, and the image's program, its child)
    // from its own page map: the clone stays in its mode instead of booting
    expect(restored.mode).toBe(mode);
    if (mode === 'snapshot') {
      // restore roots of image roots deleted since (earlier runs' state folders) were released
      const stale = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes('/image-root-') && l.split(' ')[3]?.endsWith('//deleted'));
      expect(stale).toEqual([]);
    }
  }, 600_000);
});
