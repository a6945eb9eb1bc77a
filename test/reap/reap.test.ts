import { copyFile, mkdir, mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreWithMonitor, type MonitoredInstance } from '../../src/reap/lazy-restore.js';
import { FILE_PAGES_FILE, mergeRanges, parseFileMappings, recordFilePages, totalBytes, writeFilePages } from '../../src/reap/file-pages.js';
import { ReapMonitor, type MonitorMode, type MonitorStats } from '../../src/reap/monitor.js';
import { snapshotsUnavailable } from '../helpers/snapshots.js';
import type { LaunchedInstance } from '../../src/snapshot/launcher.js';
import { commitWorkingSet, createSnapshot, dropWorkingSet, verifyWorkingSet, SnapshotCorruptError, type Snapshot } from '../../src/snapshot/store.js';
import { getState, isAlive, waitForState, type FixtureState } from '../fixtures/snapshot-server/harness.js';
import { SANDBOX_SOCKET, SANDBOXED, SandboxFixture, sandboxFacts } from '../fixtures/snapshot-server/sandbox.js';
import { writeFile } from 'node:fs/promises';
import { PE_LAZY, PE_PRESENT, dumpedPids, writePageMapIndex, type TaskPageMap } from '../../src/snapshot/images.js';

const TAG = 'hivelab-reap-test';

/** PIDs of fixture servers started for this snapshot (restores keep the original command line). */
async function fixtureProcesses(): Promise<number[]> {
  const { readdir } = await import('node:fs/promises');
  const pids: number[] = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const cmd = await readFile(`/proc/${d}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes('/var/task/server.mjs') && cmd.includes(TAG) && isAlive(Number(d))) pids.push(Number(d));
  }
  return pids;
}

describe('file-backed page ranges', () => {
  it('keeps regular-file mappings only, with their file offsets', () => {
    const maps = [
      '00400000-00600000 r-xp 00000000 08:01 1234 /usr/bin/node',
      '00800000-00801000 r--p 00400000 08:01 1234 /usr/bin/node',
      '7f0000000000-7f0000001000 rw-p 00000000 00:00 0 ',
      '7f0000002000-7f0000003000 rw-s 00000000 00:05 77 /dev/zero',
      '7f0000004000-7f0000005000 r--p 00000000 08:01 99 /tmp/x (deleted)',
      '7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]',
    ].join('\n');
    expect(parseFileMappings(maps)).toEqual([
      { start: 0x400000, end: 0x600000, offset: 0, path: '/usr/bin/node' },
      { start: 0x800000, end: 0x801000, offset: 0x400000, path: '/usr/bin/node' },
    ]);
  });

  it('merges adjacent and overlapping ranges per file', () => {
    expect(
      mergeRanges([
        { path: '/b', offset: 8192, length: 4096 },
        { path: '/a', offset: 0, length: 4096 },
        { path: '/b', offset: 0, length: 4096 },
        { path: '/b', offset: 4096, length: 4096 },
        { path: '/b', offset: 20480, length: 4096 },
      ]),
    ).toEqual([
      { path: '/a', offset: 0, length: 4096 },
      { path: '/b', offset: 0, length: 12288 },
      { path: '/b', offset: 20480, length: 4096 },
    ]);
  });
});

describe('the page-map index (one section per dumped task)', () => {
  it('names each task by its PID in the dump and its own pages image, lazy runs only', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hivelab-pgmap-'));
    try {
      const maps: TaskPageMap[] = [
        { pid: 1, pagesFile: '/x/images/pages-1.img', runs: [
          { vaddr: 0x400000n, nrPages: 2, flags: PE_PRESENT, pagesOffset: 0 }, // not lazy: CRIU restores it
          { vaddr: 0x7f0000000000n, nrPages: 3, flags: PE_PRESENT | PE_LAZY, pagesOffset: 8192 },
        ] },
        { pid: 9, pagesFile: '/x/images/pages-4.img', runs: [
          { vaddr: 0x7f0000000000n, nrPages: 1, flags: PE_LAZY, pagesOffset: null }, // the same address, another task
        ] },
      ];
      const file = path.join(dir, 'pagemap.idx');
      expect(await writePageMapIndex(maps, file)).toBe(2);
      const b = await readFile(file);
      const u = (o: number) => b.readBigUInt64LE(o);
      expect(b.subarray(0, 8).toString('latin1')).toBe('HLPGMAP2');
      expect(u(8)).toBe(2n);
      // task 1: PID, pages-1.img, one lazy run
      expect([u(16), u(24), u(32)]).toEqual([1n, 1n, 1n]);
      expect([u(40), u(48), u(56)]).toEqual([0x7f0000000000n, 3n, 8192n]);
      // task 9: PID, pages-4.img, one run with no data (a zero page)
      expect([u(64), u(72), u(80)]).toEqual([9n, 4n, 1n]);
      expect([u(88), u(96), u(104)]).toEqual([0x7f0000000000n, 1n, 0xffffffffffffffffn]);
      expect(b.length).toBe(112);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const unavailable = await snapshotsUnavailable('REAP monitor tests');

describe.skipIf(unavailable !== null)('REAP monitor with the real CRIU and userfaultfd', () => {
  let tmp: string;
  let sbx: SandboxFixture;
  let secret: string;
  let original: LaunchedInstance;
  let snapshot: Snapshot;
  let originalState: FixtureState;
  const live: MonitoredInstance[] = [];
  let restoreSeq = 0;

  async function restore(mode: MonitorMode, extra: { wsFile?: string; filePagesFile?: string } = {}) {
    const n = ++restoreSeq;
    const run = await sbx.runDir(`r${n}`);
    const t0 = performance.now();
    const inst = await restoreWithMonitor({
      mode,
      imagesDir: snapshot.imagesDir,
      workDir: path.join(tmp, `work-${n}`),
      hostname: `clone-${n}`,
      externalFds: snapshot.meta.externalFds,
      root: sbx.restoreRoot,
      imageMounts: snapshot.meta.mounts,
      mounts: sbx.mounts(run),
      pageMapIndex: snapshot.pageMapIndex,
      traceFile: snapshot.traceFile,
      wsFile: extra.wsFile ?? snapshot.wsFile,
      filePagesFile: extra.filePagesFile,
    });
    const restoredAt = performance.now();
    inst.output.resume();
    live.push(inst);
    const socketPath = inst.socketPath;
    const first = await getState(socketPath);
    const answeredAt = performance.now();
    return { inst, socketPath, first, restoreMs: restoredAt - t0, firstResponseMs: answeredAt - t0 };
  }

  async function finish(inst: MonitoredInstance): Promise<MonitorStats> {
    const stats = await inst.monitor.stats();
    inst.kill();
    await inst.exitReason;
    return stats;
  }

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'hivelab-reap-test-'));
    sbx = await SandboxFixture.create(tmp);
    sbx.tag = TAG;
    const run = await sbx.runDir('run-original');
    original = await sbx.launch(run);
    original.output.resume();
    originalState = await waitForState(path.join(run, 'fn.sock'));
    snapshot = await createSnapshot({ stateDir: path.join(tmp, 'state'), functionName: 'fixture', version: 'v1', runtime: 'node', runtimeVersion: process.version, pid: original.pid, socketPath: SANDBOX_SOCKET, mounts: sbx.mounts(run) });
    secret = path.join(tmp, 'state', 'tokens.json'); // the worker's tokens live in the state folder
    await writeFile(secret, '{"admin":"secret"}');
  }, 120_000);

  afterAll(async () => {
    original?.kill();
    for (const i of live) i.kill();
    await Promise.all(live.map((i) => i.exitReason));
    await sbx?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  let lazyOnDemand = 0;

  it('the snapshot indexes every dumped task (the fixture is one process: PID 1)', async () => {
    expect(await dumpedPids(snapshot.imagesDir)).toEqual([1]);
    expect(snapshot.meta.pagesFiles).toEqual([snapshot.meta.pagesFile]);
    const idx = await readFile(snapshot.pageMapIndex);
    expect(idx.subarray(0, 8).toString('latin1')).toBe('HLPGMAP2');
    expect(idx.readBigUInt64LE(8)).toBe(1n);
    expect(idx.readBigUInt64LE(16)).toBe(1n);
  });

  it('the monitor refuses an index of another format (an older snapshot) instead of serving wrong pages', async () => {
    const old = path.join(tmp, 'pagemap-v1.idx');
    const v1 = Buffer.alloc(16);
    v1.write('HLPGMAP1', 0, 'latin1');
    await writeFile(old, v1);
    await expect(ReapMonitor.start({ mode: 'lazy', workDir: path.join(tmp, 'work-old'), pageMapIndex: old, imagesDir: snapshot.imagesDir })).rejects.toThrow(/page-map index/);
  });

  it('lazy: serves every page on demand and the instance keeps its state', async () => {
    const { inst, socketPath, first } = await restore('lazy');
    expect(first.counter).toBe(originalState.counter + 1);
    // lazily restored into the sandbox: CRIU made the userfaultfd while still privileged, then
    // restored the unprivileged uid, no capabilities, no_new_privs and the seccomp filter
    expect(await sandboxFacts(inst.pid, socketPath, secret)).toEqual(SANDBOXED);
    expect(inst.restoreStats.wsInstalled).toBe(false);
    const stats = await inst.monitor.stats();
    lazyOnDemand = stats.onDemand;
    expect(stats.onDemand).toBeGreaterThan(100);
    expect(stats.prefetched).toBe(0);
    const full = await getState(socketPath, true); // touches all 20 MB: every page comes from the image
    expect(full.checksum).toBe(originalState.initialChecksum);
    expect((await finish(inst)).onDemand).toBeGreaterThan(5000);
  });

  it('record: writes the trace and the working-set file after the first invocation', async () => {
    const { inst, first } = await restore('record');
    expect(first.counter).toBe(originalState.counter + 1);
    const recorded = await inst.monitor.finishRecord();
    expect(recorded.wsPages).toBeGreaterThan(100);
    expect((await stat(snapshot.wsFile)).size).toBe(recorded.wsPages * 4096);
    const trace = await readFile(snapshot.traceFile);
    expect(trace.subarray(0, 8).toString('latin1')).toBe('HLTRACE2');
    expect(Number(trace.readBigUInt64LE(8))).toBe(recorded.wsPages); // each page once, in fault order
    // {address, pages-image offset, task PID in the dump}: one process here, PID 1
    expect(trace.length).toBe(64 + recorded.wsPages * 24);
    for (let i = 0; i < recorded.wsPages; i++) expect(Number(trace.readBigUInt64LE(64 + i * 24 + 16))).toBe(1);
    // file-backed pages the first invocation touched, by host path: at least the node binary's
    const ranges = await recordFilePages(inst.pid, sbx.mounts(path.join(tmp, `r${restoreSeq}`)));
    expect(ranges.some((r) => r.path === '/usr/bin/node')).toBe(true);
    expect(ranges.every((r) => !r.path.startsWith('/var/task/'))).toBe(true);
    expect(totalBytes(ranges)).toBeGreaterThan(1 << 20);
    await writeFilePages(path.join(snapshot.dir, FILE_PAGES_FILE), ranges);
    snapshot = await commitWorkingSet(snapshot, recorded.wsPages);
    await verifyWorkingSet(snapshot);
    await finish(inst);
  });

  it('prefetch: installs the working set before the instance runs; far fewer faults than lazy', async () => {
    const { inst, socketPath, first } = await restore('prefetch', { filePagesFile: path.join(snapshot.dir, FILE_PAGES_FILE) });
    expect(first.counter).toBe(originalState.counter + 1);
    expect(await sandboxFacts(inst.pid, socketPath, secret)).toEqual(SANDBOXED);
    const r = inst.restoreStats;
    expect(inst.monitor.wsInvalidReason).toBeNull();
    expect(r.wsInstalled).toBe(true);
    expect(r.wsPages).toBe(snapshot.meta.workingSet!.wsPages);
    expect(r.prefetched).toBeGreaterThan(r.wsPages * 0.9); // a few may have faulted in during the restore
    expect(r.bytesRead).toBeGreaterThanOrEqual(r.wsPages * 4096);
    expect(r.fileRanges).toBeGreaterThan(0);
    const afterFirst = await inst.monitor.stats();
    // The record-phase invocation and this one touch mostly, not exactly, the same pages (V8's
    // allocation and GC timing differ run to run: 24-33 % of lazy's faults were seen); a prefetch
    // that installed nothing useful faults as often as lazy.
    expect(afterFirst.onDemand).toBeLessThan(lazyOnDemand * 0.5);
    const full = await getState(socketPath, true);
    expect(full.checksum).toBe(originalState.initialChecksum); // pages outside the WS still served right
    await finish(inst);
  });

  it('a corrupted working-set file is detected and never installed; the restore falls back to lazy', async () => {
    const bad = path.join(tmp, 'ws-corrupt.bin');
    await copyFile(snapshot.wsFile, bad);
    const fh = await open(bad, 'r+');
    await fh.write(Buffer.from([0xde, 0xad]), 0, 2, 4096 * 3 + 17);
    await fh.close();
    const { inst, socketPath, first } = await restore('prefetch', { wsFile: bad });
    expect(inst.monitor.wsInvalidReason).toMatch(/checksum mismatch/);
    expect(inst.restoreStats.wsInstalled).toBe(false);
    expect(inst.restoreStats.prefetched).toBe(0);
    expect(first.counter).toBe(originalState.counter + 1);
    expect((await getState(socketPath, true)).checksum).toBe(originalState.initialChecksum);
    await finish(inst);
    // the store refuses it too (SHA-256 in meta.json)
    const corrupted = await copyFile(bad, snapshot.wsFile).then(() => snapshot);
    await expect(verifyWorkingSet(corrupted)).rejects.toBeInstanceOf(SnapshotCorruptError);
    snapshot = await dropWorkingSet(snapshot);
    expect(snapshot.hasWorkingSet).toBe(false);
  });

  it('when the monitor dies, the instance is killed instead of hanging', async () => {
    const { inst, socketPath } = await restore('lazy');
    inst.monitor.kill('SIGKILL');
    expect(await inst.exitReason).toBe('monitor-died');
    await expect.poll(() => isAlive(inst.pid), { timeout: 10_000 }).toBe(false);
    await expect(getState(socketPath, false, 10_000)).rejects.toThrow();
  });

  it('when the monitor dies in the middle of the restore, CRIU fails and no restored process is left', async () => {
    const n = ++restoreSeq;
    const run = await sbx.runDir(`r${n}`);
    const before = await fixtureProcesses();
    let killedAt: string | null = null;
    const attempt = restoreWithMonitor({
      mode: 'lazy',
      imagesDir: snapshot.imagesDir,
      workDir: path.join(tmp, `work-${n}`),
      hostname: `clone-${n}`,
      externalFds: snapshot.meta.externalFds,
      root: sbx.restoreRoot,
      imageMounts: snapshot.meta.mounts,
      mounts: sbx.mounts(run),
      pageMapIndex: snapshot.pageMapIndex,
      // the moment CRIU has handed over the userfaultfd, before the restore has finished
      onMonitor: (m) => m.onEvent((e) => {
        if (e === 'task' && !killedAt) {
          killedAt = e;
          m.kill('SIGKILL');
        }
      }),
    });
    const outcome = await attempt.then(
      async (inst) => {
        live.push(inst);
        return { resolved: true, reason: await inst.exitReason };
      },
      (err: Error) => ({ resolved: false, reason: err.message }),
    );
    expect(killedAt).toBe('task');
    // either CRIU noticed and failed the restore, or it finished and we killed the instance
    if (outcome.resolved) expect(outcome.reason).toBe('monitor-died');
    else expect(outcome.reason).toMatch(/restore|monitor/i);
    await expect.poll(async () => (await fixtureProcesses()).length, { timeout: 15_000 }).toBe(before.length);
  });

  it('measures lazy vs prefetch restore and first response (reported, not asserted)', async () => {
    // re-record (the working set was dropped above), then alternate modes
    const rec = await restore('record');
    const recorded = await rec.inst.monitor.finishRecord();
    await writeFilePages(path.join(snapshot.dir, FILE_PAGES_FILE), await recordFilePages(rec.inst.pid, sbx.mounts(path.join(tmp, `r${restoreSeq}`))));
    snapshot = await commitWorkingSet(snapshot, recorded.wsPages);
    await finish(rec.inst);
    const rows: string[] = [];
    for (let i = 0; i < 3; i++) {
      for (const mode of ['lazy', 'prefetch'] as const) {
        const r = await restore(mode, mode === 'prefetch' ? { filePagesFile: path.join(snapshot.dir, FILE_PAGES_FILE) } : {});
        const s = await finish(r.inst);
        rows.push(`${mode.padEnd(8)} restore ${r.restoreMs.toFixed(1)} ms, first response ${r.firstResponseMs.toFixed(1)} ms, onDemand ${s.onDemand}, prefetched ${s.prefetched}, fetch ${s.fetchMs.toFixed(2)} ms (file readahead ${s.fileMs.toFixed(2)} ms, ${(s.fileBytes / 1048576).toFixed(1)} MiB), install ${s.installMs.toFixed(2)} ms`);
      }
    }
    console.log(`REAP fixture timings (20 MB buffer, warm page cache):\n${rows.join('\n')}`);
    expect(rows).toHaveLength(6);
  });
});
