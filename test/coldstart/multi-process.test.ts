import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FIXTURES, removeState, startTestPlatform, type TestPlatform } from '../platform/harness.js';
import { instanceRecord, snapshotsUnavailable, stopInstances, workerInstanceStats } from './helpers.js';

/**
 * Lazy and REAP restores of a `command` function that is a process tree (issues 15 and 17): the
 * port bridge (PID 1), the Python server (its child), the server's worker child and a zombie the
 * server never reaps. Every live process filled 4 MiB with random bytes of its own before the dump
 * and noted the warm-up event: a restore that served one task's faults from another's pages (what
 * the REAP monitor did when it knew PID 1's page map only) changes a digest, loses a note or kills
 * the program, and the cold start would boot instead. Each request forks one more child after the
 * restore, which hashes the server's memory through its own uffd and exits.
 */

const unavailable = await snapshotsUnavailable('multi-process restore tests');

interface Facts {
  pid: number;
  digestAtStart: string;
  digestNow: string;
  note: string | null;
  calls: number;
}
interface Answer {
  server: Facts;
  worker: Facts;
  zombie: { pid: number; state: string };
  /** The server's memory as a child forked for the request (before the server read it) hashed it. */
  forkedDigest: string;
}

let t: TestPlatform;
let work: string;

beforeAll(async () => {
  if (unavailable) return;
  work = mkdtempSync(join(tmpdir(), 'hivelab-mproc-'));
  t = await startTestPlatform({ workers: 1 });
}, 120_000);

afterAll(async () => {
  await t?.stop();
  if (t) await removeState(t.stateDir);
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

/** Task PIDs (in the dump) the trace's pages belong to: `{address, offset, pid}` entries after a 64-byte header. */
function tracePids(file: string): Set<number> {
  const trace = readFileSync(file);
  expect(trace.subarray(0, 8).toString('latin1')).toBe('HLTRACE2');
  const pids = new Set<number>();
  for (let o = 64; o + 24 <= trace.length; o += 24) pids.add(Number(trace.readBigUInt64LE(o + 16)));
  return pids;
}

// snapshot and criu-lazy (CRIU restores every page itself, or its own daemon serves them) for comparison
describe.skipIf(unavailable !== null).each(['lazy', 'reap', 'snapshot', 'criu-lazy'] as const)('a multi-process command function in cold-start mode %s', (mode) => {
  const name = `mproc-${mode}`;
  const call = async (fresh: boolean) => {
    if (fresh) await stopInstances(t, name);
    const r = await t.invoke(name, { n: 1 });
    expect(r.status, r.body.toString()).toBe(200);
    const id = r.headers['x-hivelab-instance-id']!;
    return { a: r.json() as Answer, id, mode: instanceRecord(t, name, id)?.mode };
  };
  const cold = () => call(true);

  test('each process gets back its own memory; the clone stays in its mode', async () => {
    const dir = join(work, name);
    cpSync(join(FIXTURES, 'mproc-python'), dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'function.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'function.json'), JSON.stringify({ ...manifest, name, coldStart: mode, scaling: { maxScale: 1 } }));
    expect((await t.deploy(dir)).status).toBe(201);

    // the deploy's first instance (initial scale 1, maxScale 1) boots and is dumped after its warm-up
    const booted = await call(false);
    expect(booted.mode).toBe('boot');
    const version = t.platform.control.controller(name)!.deployment.version;
    const snapDir = join(t.stateDir, 'snapshots', name, version);
    const meta = JSON.parse(readFileSync(join(snapDir, 'meta.json'), 'utf8'));
    // the bridge, the server and its worker have page maps; the zombie has no memory
    expect(meta.pagesFiles.length).toBe(3);

    const restores: Awaited<ReturnType<typeof cold>>[] = [];
    for (let i = 0; i < (mode === 'reap' ? 2 : 1); i++) {
      const r = await cold();
      restores.push(r);
      expect(r.mode).toBe(mode);
      // REAP's record phase (its first restore) sends the warm-up event once more before handing out
      const recordCalls = mode === 'reap' && i === 0 ? 1 : 0;
      for (const who of ['server', 'worker'] as const) {
        const f = r.a[who];
        expect(f.digestNow, `${who}'s memory`).toBe(f.digestAtStart);
        expect(f.digestAtStart, `${who}'s memory is the dumped one`).toBe(booted.a[who].digestAtStart);
        expect(f.note, `${who} noted the warm-up before the dump`).toBe('warm-up before the dump');
        // the snapshot was taken after the warm-up, as the booted instance answered after it
        expect(f.calls).toBe(booted.a[who].calls + recordCalls);
        expect(f.pid).toBe(booted.a[who].pid);
      }
      expect(r.a.server.digestAtStart).not.toBe(r.a.worker.digestAtStart);
      expect(r.a.zombie).toEqual({ pid: booted.a.zombie.pid, state: 'Z' });
      // a child forked after the restore is served from its parent's pages (UFFD_EVENT_FORK) ...
      expect(r.a.forkedDigest).toBe(r.a.server.digestAtStart);
      // ... and once it exited, its uffd is dropped while every other task is served on
      const again = await call(false);
      expect(again.id).toBe(r.id);
      expect(again.a.forkedDigest).toBe(r.a.server.digestAtStart);
      expect(again.a.worker.digestNow).toBe(r.a.worker.digestAtStart);
      expect(again.a.server.calls).toBe(r.a.server.calls + 1);
    }
    // A child forked per request that exits leaves its uffd silent (the kernel says nothing when an
    // mm goes away): the monitor finds such uffds dead and drops them, so a server forking per
    // request never fills its table; the three live tasks stay served.
    const last = restores[restores.length - 1]!;
    for (let i = 0; i < 40; i++) expect((await call(false)).id).toBe(last.id);
    if (mode === 'lazy' || mode === 'reap') {
      const served = (await workerInstanceStats(t, last.id))?.monitor;
      expect(served?.spaces, JSON.stringify(served)).toBe(3); // the bridge, the server, its worker
      expect(served!.spacesGone).toBeGreaterThanOrEqual(40);
    }
    if (mode === 'reap') {
      // the record phase traced pages of more than one task, and the prefetch installed them
      expect(tracePids(join(snapDir, 'trace.bin')).size).toBeGreaterThanOrEqual(2);
      const stats = await workerInstanceStats(t, restores[1]!.id);
      expect(stats?.monitor?.wsInstalled).toBe(true);
      expect(stats!.monitor!.prefetched).toBeGreaterThan(0);
    }
  }, 300_000);
});
