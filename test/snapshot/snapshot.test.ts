import { spawn } from 'node:child_process';
import { mkdtemp, open, readFile, readlink, rm, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRIU_VERSION } from '../../src/snapshot/criu.js';
import { snapshotsUnavailable } from '../helpers/snapshots.js';
import { decodeProto, parsePagemap, PE_LAZY, PE_PRESENT, PAGE_SIZE } from '../../src/snapshot/images.js';
import { encodeSnapshotSpec, type LaunchedInstance } from '../../src/snapshot/launcher.js';
import { dumpMountArgs, externalMounts, hostPathOf, restoreExternals } from '../../src/snapshot/mounts.js';
import type { SandboxSpec } from '../../src/sandbox/launch.js';
import { restoreInstance, type RestoredInstance } from '../../src/snapshot/restore.js';
import { createSnapshot, invalidateSnapshots, openSnapshot, SnapshotCorruptError, type Snapshot } from '../../src/snapshot/store.js';
import { getState, isAlive, probe, waitForState } from '../fixtures/snapshot-server/harness.js';
import { FIXTURE_UID, SANDBOX_SOCKET, SandboxFixture } from '../fixtures/snapshot-server/sandbox.js';
import { writeFile } from 'node:fs/promises';

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

/** The netstrings of an encoded spec, as a flat list. */
function netstrings(buf: Buffer): string[] {
  const out: string[] = [];
  let text = buf.toString('utf8');
  while (text) {
    const colon = text.indexOf(':');
    const n = Number(text.slice(0, colon));
    out.push(text.slice(colon + 1, colon + 1 + n));
    text = text.slice(colon + 2 + n);
  }
  return out;
}

describe('snapshot launcher', () => {
  const spec = (runDir: string): SandboxSpec => ({
    cgroupProcsFiles: ['/cg/memory/x/cgroup.procs'],
    root: '/state/sandbox-root',
    binds: [
      { src: '/usr', dst: '/usr', readonly: true },
      { src: '/state/functions/fn/v1', dst: '/var/task', readonly: true },
      { src: '/opt/dist/runtime', dst: '/opt/hivelab/runtime', readonly: true },
      { src: runDir, dst: '/run/hivelab', readonly: false, noexec: true },
    ],
    tmpfs: [{ dst: '/tmp', sizeBytes: 64 << 20, mode: 0o1777 }],
    shmBytes: 32 << 20,
    hostname: 'fn-1',
    uid: 100_007,
    gid: 100_007,
    rlimits: { nofile: 4096, fsizeBytes: 1 << 30, core: 0 },
    keepFd: 3,
    cwd: '/var/task',
    argv: ['/usr/bin/node', '/opt/hivelab/runtime/node/shim.cjs'],
    env: { HIVELAB_SOCKET: '/run/hivelab/fn.sock', HIVELAB_READY_FD: '3' },
  });

  it('asks the sandbox launcher for the boot sandbox without a readiness pipe or a parent-death signal', () => {
    const items = netstrings(encodeSnapshotSpec(spec('/state/run/fn-1')));
    const seq = (...xs: string[]) => items.some((_, i) => xs.every((x, j) => items[i + j] === x));
    expect(seq('cgroup', '/cg/memory/x/cgroup.procs')).toBe(true);
    expect(seq('bind', '/state/run/fn-1', '/run/hivelab', 'rw,noexec')).toBe(true);
    expect(seq('uid', '100007')).toBe(true);
    // CRIU restores a parent-death signal: a restored clone would die the moment CRIU exits
    expect(seq('pdeathsig', '0')).toBe(true);
    // no descriptor may lead out of a snapshot but the output pipe and the listener
    expect(items).not.toContain('keep-fd');
    expect(items.some((i) => i.startsWith('HIVELAB_READY_FD='))).toBe(false);
    expect(seq('env', 'HIVELAB_SOCKET=/run/hivelab/fn.sock')).toBe(true);
  });

  it('declares every bind external on dump and maps each to the clone\'s host folder on restore', () => {
    const mounts = externalMounts(spec('/state/run/fn-1').binds);
    expect(mounts.map((m) => m.name)).toEqual(['usr', 'var-task', 'opt-hivelab-runtime', 'run-hivelab']);
    expect(dumpMountArgs(mounts)).toContain('mnt[/run/hivelab]:run-hivelab');
    const clone = externalMounts(spec('/state/run/fn-2').binds);
    const args = restoreExternals(mounts, clone);
    expect(args).toContain('mnt[run-hivelab]:/state/run/fn-2');
    expect(args).toContain('mnt[var-task]:/state/functions/fn/v1');
    // a mount of the image the clone cannot supply is refused by name
    expect(() => restoreExternals(mounts, clone.filter((m) => m.name !== 'var-task'))).toThrow(/\/var\/task \(var-task\)/);
    expect(hostPathOf('/var/task/handler.js', clone)).toBe('/state/functions/fn/v1/handler.js');
    expect(hostPathOf('/usr/bin/node', clone)).toBe('/usr/bin/node');
    expect(hostPathOf('/tmp/x', clone)).toBeNull();
  });
});

const unavailable = await snapshotsUnavailable('CRIU snapshot tests');

describe.skipIf(unavailable !== null)('snapshot store with the real CRIU, instances in the sandbox', () => {
  let tmp: string;
  let sbx: SandboxFixture;
  let original: LaunchedInstance;
  let snapshot: Snapshot;
  const restored: RestoredInstance[] = [];
  const cloneRuns: string[] = [];
  let originalState: Awaited<ReturnType<typeof getState>>;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'hivelab-snapshot-test-'));
    sbx = await SandboxFixture.create(tmp);
    const run = await sbx.runDir('run-original');
    original = await sbx.launch(run);
    original.output.resume();
    originalState = await waitForState(path.join(run, 'fn.sock')); // the warm-up invocation: counter 1
    snapshot = await createSnapshot({
      stateDir: path.join(tmp, 'state'),
      functionName: 'fixture',
      version: 'v1',
      runtime: 'node',
      runtimeVersion: process.version,
      pid: original.pid,
      socketPath: SANDBOX_SOCKET,
      mounts: sbx.mounts(run),
    });
    // a host secret the clones must not see (the worker's tokens.json lives in the state folder)
    await writeFile(path.join(tmp, 'state', 'tokens.json'), '{"admin":"secret"}');
  }, 120_000);

  afterAll(async () => {
    original?.kill();
    for (const r of restored) r.kill();
    await Promise.all(restored.map((r) => r.exited));
    await sbx?.cleanup();
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
    expect(meta.mounts.map((m: { target: string }) => m.target)).toContain('/run/hivelab');
    expect(meta.format).toBe(7);
    expect(meta.pagesFiles).toEqual(['images/pages-1.img']); // every dumped task's (one here)
    expect(await openSnapshot(path.join(tmp, 'state'), 'fixture', 'v1', { verify: true })).not.toBeNull();
    // format 3 indexed PID 1's pages only: refused, so the platform deletes it and dumps anew
    const old = path.join(tmp, 'state', 'snapshots', 'fixture-old', 'v1');
    await mkdir(old, { recursive: true });
    await writeFile(path.join(old, 'meta.json'), JSON.stringify({ ...meta, function: 'fixture-old', format: 3 }));
    await expect(openSnapshot(path.join(tmp, 'state'), 'fixture-old', 'v1')).rejects.toThrow(/format 3/);
    expect(isAlive(original.pid)).toBe(false); // dumped without --leave-running
  });

  it('restores two clones of one image side by side, each with the original state and its own socket', async () => {
    for (const i of [1, 2]) cloneRuns.push(await sbx.runDir(`run-clone-${i}`));
    const clones = await Promise.all(
      cloneRuns.map((run, i) =>
        restoreInstance({
          imagesDir: snapshot.imagesDir,
          workDir: path.join(tmp, `restore-${i + 1}`),
          hostname: `clone-${i + 1}`,
          externalFds: snapshot.meta.externalFds,
          root: sbx.restoreRoot,
          imageMounts: snapshot.meta.mounts,
          mounts: sbx.mounts(run),
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
      const state = await getState(clones[i]!.socketPath, true);
      expect(state.counter).toBe(originalState.counter + 1); // the counter survived, per clone
      expect(state.pid).toBe(1); // PID 1 of a fresh PID namespace
      expect(state.checksum).toBe(originalState.initialChecksum); // all 20 MB came back intact
    }
    // IPC and UTS namespaces of each clone's own (made by its CRIU relay, not recorded in the
    // snapshot), named after the clone, not the original
    const ids = await Promise.all(clones.map(async (c) => (await probe(c.socketPath, 'identity')).value as { hostname: string; ipc: string; uts: string }));
    expect(ids.map((i) => i.hostname)).toEqual(['clone-1', 'clone-2']);
    for (const kind of ['ipc', 'uts'] as const) {
      expect(await readlink(`/proc/${clones[1]!.pid}/ns/${kind}`)).toBe(ids[1]![kind]); // what it sees is where it is
      expect(new Set([await readlink(`/proc/self/ns/${kind}`), ids[0]![kind], ids[1]![kind]]).size).toBe(3);
    }
    // the instance's stdout reaches us through the pipe grafted in at restore
    await expect.poll(() => outputs[0]!(), { timeout: 10_000 }).toContain('request 2');
    clones[0]!.kill();
    await clones[0]!.exited;
    await expect.poll(() => isAlive(clones[0]!.pid), { timeout: 10_000 }).toBe(false);
    expect((await getState(clones[1]!.socketPath)).counter).toBe(originalState.counter + 2);
  });

  it('restores a clone into the sandbox: unprivileged, no capabilities, seccomp, its own root, /tmp and run folder', async () => {
    const clone = restored[1]!;
    const sock = clone.socketPath;
    const status = await readFile(`/proc/${clone.pid}/status`, 'utf8');
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim();
    expect(field('Uid')?.split(/\s+/)).toEqual(Array(4).fill(String(FIXTURE_UID)));
    expect(field('Gid')?.split(/\s+/)).toEqual(Array(4).fill(String(FIXTURE_UID)));
    for (const caps of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(field(caps)).toBe('0000000000000000');
    expect(field('NoNewPrivs')).toBe('1');
    expect(field('Seccomp')).toBe('2');
    // the host's files are out of sight: the state folder, the scratch folder, the host's /tmp
    expect(await probe(sock, 'read', path.join(tmp, 'state', 'tokens.json'))).toMatchObject({ ok: false, code: 'ENOENT' });
    expect(await probe(sock, 'read', '/etc/shadow')).toMatchObject({ ok: false, code: 'EACCES' });
    expect(await probe(sock, 'write', '/var/task/planted')).toMatchObject({ ok: false, code: 'EROFS' });
    expect(await probe(sock, 'write', '/planted')).toMatchObject({ ok: false });
    // its own /tmp: written here, not on the host, not in the original's
    expect(await probe(sock, 'write', '/tmp/clone-2')).toMatchObject({ ok: true, value: 'hivelab-probe' });
    expect(await readFile('/tmp/clone-2', 'utf8').catch((e: NodeJS.ErrnoException) => e.code)).toBe('ENOENT');
    // its own run folder: the file shows up in this clone's host folder and nowhere else
    expect(await probe(sock, 'write', '/run/hivelab/mine')).toMatchObject({ ok: true });
    expect(await readFile(path.join(cloneRuns[1]!, 'mine'), 'utf8')).toBe('hivelab-probe');
    expect(await readFile(path.join(cloneRuns[0]!, 'mine'), 'utf8').catch((e: NodeJS.ErrnoException) => e.code)).toBe('ENOENT');
    const mountinfo = await readFile(`/proc/${clone.pid}/mountinfo`, 'utf8');
    expect(mountinfo).toMatch(/ \/ ro,/); // the root is read-only (CRIU 4.1.1 keeps the --root bind's flags)
    expect(mountinfo).not.toContain(tmp.replace(/^\/+/, '') + '/state');
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
