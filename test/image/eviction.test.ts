import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEFAULT_IMAGE_EVICTION_GRACE_MS, ImageEviction, type EvictionTimers } from '../../src/control/image-eviction.js';
import { ImageStore, type ImageRecord } from '../../src/image/store.js';
import { ensureRestoreRoot, imageRestoreRootPoint, releaseImageRestoreRoot } from '../../src/snapshot/mounts.js';
import { launcherUnavailableReason } from '../../src/sandbox/root.js';
import { removeState, startTestPlatform, type TestPlatform } from '../platform/harness.js';
import { hivelab } from './cli.js';
import { instanceRecord, snapshotsUnavailable, stopInstances } from '../coldstart/helpers.js';
import { KERNDAT_DIR } from '../../src/snapshot/criu.js';
import { busyboxLayer, makeTar, serverConfig, sha, writeOciLayout } from './image-builder.js';

// Eviction of the image store: when the last function of an image goes, after the grace its roots
// (their CRIU restore binds unmounted first) and the layers no other image uses are deleted; a
// re-deploy within the grace keeps them. The grace runs on a hand-driven clock: nothing waits.

/** A clock the test fires by hand. */
class ManualTimers implements EvictionTimers {
  readonly pending = new Map<number, { fire: () => Promise<void>; ms: number }>();
  private seq = 0;
  set(fire: () => Promise<void>, ms: number): unknown {
    this.pending.set(++this.seq, { fire, ms });
    return this.seq;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Fires every timer as if its time had come; resolves when their work is done. */
  async fireAll(): Promise<void> {
    const due = [...this.pending.entries()];
    this.pending.clear();
    await Promise.all(due.map(([, t]) => t.fire()));
  }
  delays(): number[] {
    return [...this.pending.values()].map((t) => t.ms);
  }
}

const UID = 100_777;
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'hivelab-image-evict-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const shared = busyboxLayer();
const onlyA = makeTar([{ name: 'app/', type: 'dir' }, { name: 'app/which', body: 'a' }]);
const onlyB = makeTar([{ name: 'app/', type: 'dir' }, { name: 'app/which', body: 'b' }]);

function image(name: string, layers: Buffer[]): string {
  const dir = join(work, name);
  writeOciLayout(dir, { layers, config: serverConfig() });
  return dir;
}

const mounted = (point: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === point);
const layerThere = (storeDir: string, layer: Buffer) => existsSync(join(storeDir, 'layers/sha256', sha(layer).slice(7)));

describe.skipIf(process.getuid?.() !== 0)('the store and the eviction policy', () => {
  let store: ImageStore;
  let a: ImageRecord;
  let b: ImageRecord;
  const binds = () => join(work, 'binds');
  beforeAll(async () => {
    mkdirSync(binds());
    store = new ImageStore(join(work, 'state/images'));
    a = await store.pull(image('a', [shared, onlyA]), {});
    b = await store.pull(image('b', [shared, onlyB]), {});
  });

  test('the last function of A goes: after the grace A\'s root (its restore bind unmounted first) and its own layer go; the shared layer and B stay', async () => {
    const rootA = await store.rootfs(a.id, UID);
    const rootB = await store.rootfs(b.id, UID);
    const point = await ensureRestoreRoot(realpathSync(rootA), imageRestoreRootPoint(binds(), realpathSync(rootA)));
    expect(mounted(point)).toBe(true);
    // a worker's store assembled A's root too: it must notice the eviction
    const worker = new ImageStore(store.dir);
    expect(await worker.rootfs(a.id, UID)).toBe(rootA);

    const inUse = new Set([b.id]);
    const timers = new ManualTimers();
    const log: string[] = [];
    const ev = new ImageEviction({ store, inUse: (id) => inUse.has(id), releaseRoot: (r) => releaseImageRestoreRoot(binds(), r), log: (_l, m) => log.push(m), timers });
    ev.schedule(b.id); // still used: nothing to do
    expect(timers.delays()).toEqual([]);
    ev.schedule(a.id);
    ev.schedule(a.id); // once
    expect(timers.delays()).toEqual([DEFAULT_IMAGE_EVICTION_GRACE_MS]);
    expect(DEFAULT_IMAGE_EVICTION_GRACE_MS).toBe(600_000);
    expect(existsSync(rootA)).toBe(true); // nothing goes before the grace

    await timers.fireAll();
    expect(log).toEqual([`image ${a.id.slice(0, 19)} evicted: 1 root(s), 1 layer(s) no other image uses`]);
    expect(mounted(point)).toBe(false);
    expect(existsSync(point)).toBe(false);
    expect(existsSync(rootA)).toBe(false);
    expect(await store.record(a.id)).toBeUndefined();
    expect(layerThere(store.dir, onlyA)).toBe(false);
    expect(existsSync(join(store.dir, 'layers/sha256', `${sha(onlyA).slice(7)}.json`))).toBe(false);
    expect(layerThere(store.dir, shared)).toBe(true);
    expect(layerThere(store.dir, onlyB)).toBe(true);
    expect(readFileSync(join(rootB, 'app/which'), 'utf8')).toBe('b');
    expect(readdirSync(join(store.dir, 'tmp'))).toEqual([]);

    // deployed again later: pulled again (the shared layer cached), and the worker assembles anew
    await expect(worker.rootfs(a.id, UID)).rejects.toThrow(/is not in the image store/);
    const events: string[] = [];
    await store.pull(image('a', [shared, onlyA]), {}, (e) => e.type === 'layer' && e.state !== 'pulling' && events.push(e.state));
    expect(events).toEqual(['cached', 'done']);
    expect(readFileSync(join(await worker.rootfs(a.id, UID), 'app/which'), 'utf8')).toBe('a');
  });

  test('hostile and odd input: an unknown image evicts nothing, a malformed id is refused, a root without a bind releases nothing', async () => {
    const before = readdirSync(join(store.dir, 'layers/sha256')).sort();
    expect(await store.evict(`sha256:${'0'.repeat(64)}`)).toEqual({ roots: [], layers: [] });
    await expect(store.evict('sha256:../../etc')).rejects.toThrow(/image id/);
    await expect(store.evict('../../rootfs')).rejects.toThrow(/image id/);
    expect(readdirSync(join(store.dir, 'layers/sha256')).sort()).toEqual(before);
    expect(await releaseImageRestoreRoot(binds(), await store.rootfs(b.id, UID))).toBeNull();
    expect(await releaseImageRestoreRoot(binds(), join(work, 'no-such-root'))).toBeNull();
  });

  test('a re-deploy within the grace cancels the eviction: roots and layers stay', async () => {
    const rootB = await store.rootfs(b.id, UID);
    const inode = statSync(rootB).ino;
    const inUse = new Set<string>();
    const timers = new ManualTimers();
    const ev = new ImageEviction({ store, inUse: (id) => inUse.has(id), releaseRoot: (r) => releaseImageRestoreRoot(binds(), r), log: () => undefined, timers, graceMs: 5_000 });
    ev.schedule(b.id);
    expect(timers.delays()).toEqual([5_000]);
    expect(ev.cancel(b.id)).toBe(true);
    expect(timers.delays()).toEqual([]);
    await timers.fireAll();
    expect(statSync(rootB).ino).toBe(inode);
    expect(layerThere(store.dir, onlyB)).toBe(true);
    // a timer that fires while the image is in use again (deployed by another path) evicts nothing
    ev.schedule(b.id);
    inUse.add(b.id);
    await timers.fireAll();
    expect(statSync(rootB).ino).toBe(inode);
    expect(await store.record(b.id)).toBeDefined();
  });
});

const skip = launcherUnavailableReason() ?? (existsSync('/bin/busybox') ? undefined : 'busybox-static is not installed');

describe.skipIf(skip)('hivelab rm of an image\'s last function, on the platform', () => {
  let t: TestPlatform;
  const timers = new ManualTimers();
  beforeAll(async () => {
    t = await startTestPlatform({ imageEviction: { timers } });
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    if (t) await removeState(t.stateDir);
  });

  const deploy = async (name: string, dir: string) => {
    const d = await hivelab(['deploy', '--image', dir, '--name', name, '--memory', '128', '--state', t.stateDir]);
    expect(d.code, d.stderr).toBe(0);
  };
  const invoke = async (name: string) => {
    const r = await t.invoke(name, undefined, { raw: Buffer.from('/'), contentType: 'text/plain' });
    expect(r.status, r.body.toString()).toBe(200);
  };
  const roots = () => readdirSync(join(t.stateDir, 'images/rootfs')).sort();

  test('two images share a layer; rm one: after the grace its root and own layer go, the shared layer stays; rm and re-deploy within the grace keeps everything', async () => {
    const storeDir = join(t.stateDir, 'images');
    await deploy('evict-a', image('pa', [shared, onlyA]));
    await deploy('evict-b', image('pb', [shared, onlyB]));
    await invoke('evict-a');
    await invoke('evict-b');
    expect(roots()).toHaveLength(2);

    const rm = await hivelab(['rm', 'evict-a', '--state', t.stateDir]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(timers.delays()).toEqual([600_000]);
    expect(roots()).toHaveLength(2); // still there within the grace
    await timers.fireAll();
    expect(roots()).toHaveLength(1);
    expect(layerThere(storeDir, onlyA)).toBe(false);
    expect(layerThere(storeDir, shared)).toBe(true);
    expect(layerThere(storeDir, onlyB)).toBe(true);
    await invoke('evict-b');

    // rm b, and deploy it again within the grace: nothing is evicted, the root is reused
    const [rootB] = roots();
    const inode = statSync(join(storeDir, 'rootfs', rootB!)).ino;
    expect((await hivelab(['rm', 'evict-b', '--state', t.stateDir])).code).toBe(0);
    expect(timers.delays()).toEqual([600_000]);
    await deploy('evict-b', image('pb', [shared, onlyB]));
    expect(timers.delays()).toEqual([]);
    await invoke('evict-b');
    expect(statSync(join(storeDir, 'rootfs', rootB!)).ino).toBe(inode);
    expect(layerThere(storeDir, shared) && layerThere(storeDir, onlyB)).toBe(true);
  }, 300_000);
});

const noSnapshots = await snapshotsUnavailable('image eviction snapshot test');

describe.skipIf(noSnapshots !== null)('eviction of a root CRIU restores from', () => {
  let t: TestPlatform;
  const timers = new ManualTimers();
  beforeAll(async () => {
    t = await startTestPlatform({ workers: 1, imageEviction: { timers } });
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    if (t) await removeState(t.stateDir);
  }, 60_000);

  const cold = async (name: string) => {
    await stopInstances(t, name);
    const r = await t.invoke(name, undefined, { raw: Buffer.from('/'), contentType: 'text/plain' });
    expect(r.status, r.body.toString()).toBe(200);
    return instanceRecord(t, name, r.headers['x-hivelab-instance-id']!)?.mode;
  };

  test('the restore bind in /dev/shm/hivelab-criu is unmounted before the root goes; deployed again, restores bind the new root', async () => {
    const dir = image('snap', [shared, onlyA]);
    const deploy = async () => {
      const d = await hivelab(['deploy', '--image', dir, '--name', 'evict-snap', '--cold-start', 'snapshot', '--memory', '128', '--timeout', '120', '--state', t.stateDir]);
      expect(d.code, d.stderr).toBe(0);
    };
    await deploy();
    await cold('evict-snap'); // boots and dumps
    expect(await cold('evict-snap')).toBe('snapshot');
    const rootsDir = join(t.stateDir, 'images/rootfs');
    const [root] = readdirSync(rootsDir).map((n) => realpathSync(join(rootsDir, n)));
    const point = imageRestoreRootPoint(KERNDAT_DIR, root!);
    expect(mounted(point)).toBe(true);

    expect((await hivelab(['rm', 'evict-snap', '--state', t.stateDir])).code).toBe(0);
    await timers.fireAll();
    expect(mounted(point)).toBe(false);
    expect(existsSync(root!)).toBe(false);

    // the worker that made the bind notices it is gone: the next restore binds the new root
    await deploy();
    await cold('evict-snap');
    expect(await cold('evict-snap')).toBe('snapshot');
    expect(mounted(point)).toBe(true);
    expect(statSync(point).ino).toBe(statSync(root!).ino);
  }, 600_000);
});
