import { spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rm, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRIU_VERSION } from '../../src/snapshot/criu.js';
import { snapshotsUnavailable } from '../helpers/snapshots.js';
import { decodeProto, parsePagemap, PE_LAZY, PE_PRESENT, PAGE_SIZE } from '../../src/snapshot/images.js';
import { buildSnapshotLaunchArgs, launchForSnapshot, type LaunchedInstance } from '../../src/snapshot/launcher.js';
import { restoreInstance, type RestoredInstance } from '../../src/snapshot/restore.js';
import { createSnapshot, invalidateSnapshots, openSnapshot, SnapshotCorruptError, type Snapshot } from '../../src/snapshot/store.js';
import { FIXTURE_SERVER, getState, isAlive, waitForState } from '../fixtures/snapshot-server/harness.js';

/** Builds protobuf bytes for tests: (field, varint) pairs. */
function pb(fields: Array<[number, number | bigint]>): Buffer {
  const bytes: number[] = [];
  const varint = (v: bigint) => {
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) b |= 0x80;
      bytes.push(b);
    } while (v > 0n);
  };
  for (const [f, v] of fields) {
    varint(BigInt(f << 3));
    varint(BigInt(v));
  }
  return Buffer.from(bytes);
}

function image(magic: number, entries: Buffer[]): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(0x54564319, 0);
  head.writeUInt32LE(magic, 4);
  return Buffer.concat([head, ...entries.flatMap((e) => {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(e.length);
    return [len, e];
  })]);
}

describe('CRIU image reading', () => {
  it('decodes varints beyond 32 bits and repeated fields', () => {
    const f = decodeProto(pb([[1, 0x7fff_ffff_f000n], [2, 5], [2, 7]]));
    expect(f.get(1)).toEqual([0x7fff_ffff_f000n]);
    expect(f.get(2)).toEqual([5n, 7n]);
  });

  it('maps pagemap runs to offsets in the pages image, skipping runs without data', () => {
    const buf = image(0x56084025, [
      pb([[1, 3]]), // head: pages-3.img
      pb([[1, 0x1000n], [2, 2], [4, PE_PRESENT]]),
      pb([[1, 0x8000n], [2, 4], [4, PE_LAZY]]), // lazy, no data: zero pages
      pb([[1, 0x20000n], [2, 1], [4, PE_LAZY | PE_PRESENT]]),
    ]);
    const { pagesId, runs } = parsePagemap(buf);
    expect(pagesId).toBe(3);
    expect(runs.map((r) => r.pagesOffset)).toEqual([0, null, 2 * PAGE_SIZE]);
    expect(runs[2]!.vaddr).toBe(0x20000n);
  });

  it('refuses an image with the wrong magic or a truncated entry', () => {
    expect(() => parsePagemap(image(0x12345678, [pb([[1, 1]])]))).toThrow(/magic/);
    const good = image(0x56084025, [pb([[1, 1]]), pb([[1, 0x1000n], [2, 1], [4, PE_PRESENT]])]);
    expect(() => parsePagemap(good.subarray(0, good.length - 2))).toThrow(/truncated/);
  });
});

describe('snapshot launcher', () => {
  it('puts the runtime in its own PID, network, IPC and UTS namespaces as a session leader', () => {
    const { file, args } = buildSnapshotLaunchArgs({ argv: ['/usr/bin/node', 'x.js'], env: {}, cwd: '/' });
    expect(file).toBe('/bin/bash');
    const script = args[1]!;
    for (const flag of ['--pid', '--net', '--ipc', '--uts', '--fork', 'setsid']) expect(script).toContain(flag);
    expect(script).not.toContain('--kill-child'); // a parent-death signal would kill every restore
    expect(args.slice(-2)).toEqual(['/usr/bin/node', 'x.js']);
  });

  it('starts the runtime inside the given cgroups', async () => {
    // A scratch file stands in for cgroup.procs: the shell writes its own PID there before it
    // starts anything, so everything it starts inherits the groups.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hivelab-launch-cg-'));
    const procs = [path.join(dir, 'a.procs'), path.join(dir, 'b.procs')];
    const { file, args } = buildSnapshotLaunchArgs({ argv: ['/bin/true'], env: {}, cwd: '/' }, procs);
    expect(args.slice(-2)).toEqual(['--', '/bin/true']);
    const child = spawn(file, args, { stdio: 'ignore' });
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(0);
    for (const p of procs) expect(Number((await readFile(p, 'utf8')).trim())).toBe(child.pid);
    // An unwritable group stops the launch before the runtime runs.
    const bad = buildSnapshotLaunchArgs({ argv: ['/bin/true'], env: {}, cwd: '/' }, [path.join(dir, 'missing', 'cgroup.procs')]);
    const failed = spawn(bad.file, bad.args, { stdio: 'ignore' });
    expect(await new Promise((r) => failed.once('exit', r))).toBe(97);
    await rm(dir, { recursive: true, force: true });
  });
});

const unavailable = await snapshotsUnavailable('CRIU snapshot tests');

describe.skipIf(unavailable !== null)('snapshot store with the real CRIU', () => {
  let tmp: string;
  let original: LaunchedInstance;
  let snapshot: Snapshot;
  const restored: RestoredInstance[] = [];
  let originalState: Awaited<ReturnType<typeof getState>>;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'hivelab-snapshot-test-'));
    const run = path.join(tmp, 'run-original');
    await mkdir(run);
    const socketPath = path.join(run, 'fn.sock');
    original = await launchForSnapshot({ argv: [process.execPath, FIXTURE_SERVER, socketPath], env: {}, cwd: run });
    original.output.resume();
    originalState = await waitForState(socketPath); // the warm-up invocation: counter 1
    snapshot = await createSnapshot({
      stateDir: path.join(tmp, 'state'),
      functionName: 'fixture',
      version: 'v1',
      runtime: 'node',
      runtimeVersion: process.version,
      pid: original.pid,
      socketPath,
    });
  });

  afterAll(async () => {
    original?.kill();
    for (const r of restored) r.kill();
    await Promise.all(restored.map((r) => r.exited));
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('writes meta.json with the versions, sizes and a checksum of every file', async () => {
    const meta = JSON.parse(await readFile(path.join(snapshot.dir, 'meta.json'), 'utf8'));
    expect(snapshot.dir).toBe(path.join(tmp, 'state', 'snapshots', 'fixture', 'v1'));
    expect(meta.criuVersion).toBe(CRIU_VERSION);
    expect(meta.runtimeVersion).toBe(process.version);
    expect(meta.files['images/pages-1.img'].size).toBeGreaterThan(20 * 1024 * 1024); // the 20 MB buffer
    expect(meta.files['pagemap.idx'].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(meta.externalFds.map((f: { role: string }) => f.role).sort()).toEqual(['listener', 'output']);
    expect(await openSnapshot(path.join(tmp, 'state'), 'fixture', 'v1', { verify: true })).not.toBeNull();
    expect(isAlive(original.pid)).toBe(false); // dumped without --leave-running
  });

  it('restores two clones of one image side by side, each with the original state and its own socket', async () => {
    const clones = await Promise.all(
      [1, 2].map((i) =>
        restoreInstance({
          imagesDir: snapshot.imagesDir,
          workDir: path.join(tmp, `restore-${i}`),
          socketPath: path.join(tmp, `clone-${i}.sock`),
          externalFds: snapshot.meta.externalFds,
        }),
      ),
    );
    restored.push(...clones);
    expect(clones[0]!.pid).not.toBe(clones[1]!.pid);
    const outputs = clones.map((c) => {
      let text = '';
      c.output.on('data', (d: Buffer) => (text += d.toString()));
      return () => text;
    });
    for (const [i] of clones.entries()) {
      const state = await getState(path.join(tmp, `clone-${i + 1}.sock`), true);
      expect(state.counter).toBe(originalState.counter + 1); // the counter survived, per clone
      expect(state.pid).toBe(1); // PID 1 of a fresh PID namespace
      expect(state.checksum).toBe(originalState.initialChecksum); // all 20 MB came back intact
    }
    // the instance's stdout reaches us through the pipe grafted in at restore
    await expect.poll(() => outputs[0]!(), { timeout: 10_000 }).toContain('request 2');
    clones[0]!.kill();
    await clones[0]!.exited;
    await expect.poll(() => isAlive(clones[0]!.pid), { timeout: 10_000 }).toBe(false);
    expect((await getState(path.join(tmp, 'clone-2.sock'))).counter).toBe(originalState.counter + 2);
  });

  it('refuses a snapshot whose image file was corrupted', async () => {
    const fh = await open(snapshot.pagesFile, 'r+');
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 4096 * 10);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, 4096 * 10);
    await fh.close();
    await expect(openSnapshot(path.join(tmp, 'state'), 'fixture', 'v1', { verify: true })).rejects.toBeInstanceOf(SnapshotCorruptError);
    await expect(openSnapshot(path.join(tmp, 'state'), 'fixture', 'v1', { verify: true })).rejects.toThrow(/pages-1\.img is corrupted/);
  });

  it('drops the other versions of a function on redeploy', async () => {
    await mkdir(path.join(tmp, 'state', 'snapshots', 'fixture', 'v0'), { recursive: true });
    expect(await invalidateSnapshots(path.join(tmp, 'state'), 'fixture', 'v1')).toEqual(['v0']);
    expect(await openSnapshot(path.join(tmp, 'state'), 'fixture', 'v1')).not.toBeNull();
    expect(await openSnapshot(path.join(tmp, 'state'), 'fixture', 'v0')).toBeNull();
  });
});
