import { closeSync, openSync } from 'node:fs';
import { chmod, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InstanceCgroup } from '../../src/sandbox/cgroup.js';
import { ReadyCriu } from '../../src/snapshot/ready-criu.js';
import { isRunning } from '../helpers/process.js';

/**
 * The relay that keeps a CRIU ready for a restore (`hivelab-sandbox --criu-swrk`, criu_swrk.c), with
 * stand-in CRIUs: whatever goes wrong before or during the request (CRIU dying, the worker leaving,
 * a malformed request), the relay ends within moments, takes its CRIU with it and says why; it
 * never waits for an answer that cannot come. The real restores through it are in snapshot.test.ts,
 * test/reap and test/coldstart.
 */

const root = process.getuid?.() === 0 ? null : 'needs root (cgroups)';
let dir: string;
const saved = process.env.HIVELAB_CRIU;
const started: ReadyCriu[] = [];

async function standIn(name: string, script: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `#!/bin/sh\n${script}\n`);
  await chmod(file, 0o755);
  return file;
}

function start(criu: string, opts: { cgroupProcs?: string[]; listenerPath?: string } = {}): ReadyCriu {
  process.env.HIVELAB_CRIU = criu;
  const netns = openSync('/dev/null', 'r'); // the relay only passes descriptor 4 on
  try {
    const r = ReadyCriu.start({ cgroupProcs: opts.cgroupProcs ?? [], netns, listenerPath: opts.listenerPath ?? join(dir, `l-${started.length}.sock`) });
    started.push(r);
    return r;
  } finally {
    closeSync(netns);
  }
}

/** PIDs whose command line is exactly `cmd` (a stand-in's `sleep N`). */
async function running(cmd: string): Promise<number[]> {
  const { readdir } = await import('node:fs/promises');
  const out: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const c = (await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').trim();
    if (c === cmd && isRunning(Number(p))) out.push(Number(p));
  }
  return out;
}

describe.skipIf(root !== null)('a CRIU kept ready', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hivelab-ready-criu-'));
  });
  afterEach(() => {
    for (const r of started.splice(0)) r.kill();
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.HIVELAB_CRIU;
    else process.env.HIVELAB_CRIU = saved;
    await rm(dir, { recursive: true, force: true });
  });

  it('binds the clone\'s socket and waits; a CRIU that dies before any request ends it, saying so', async () => {
    const r = start(await standIn('criu-dies', 'sleep 0.3; exit 3'));
    // ready means the socket exists: a claim moves it at once
    await r.ready();
    expect((await stat(r.listenerPath)).isSocket()).toBe(true);
    await r.relayExit;
    expect(r.ended).toBe(true);
    expect(await r.failure()).toMatch(/the CRIU relay lost its CRIU: .*CRIU ended before any request/);
    // a restore on it answers at once, with nothing
    const out = await r.restore({ workDir: dir, imagesDir: dir, hostname: 'h' }, { logFile: 'x.log', logLevel: 2, root: '/', external: [], inheritFds: [], lazyPages: false });
    expect(out).toEqual({ response: null, criuMs: null });
    expect(await r.criuExit).toBeNull();
  });

  it('takes its CRIU with it when the worker leaves without a request', async () => {
    const r = start(await standIn('criu-waits', 'exec sleep 87661'));
    await expect.poll(() => running('sleep 87661'), { timeout: 10_000 }).toHaveLength(1);
    r.kill();
    await r.relayExit;
    await expect.poll(() => running('sleep 87661'), { timeout: 10_000 }).toEqual([]);
  });

  it('refuses a malformed request (a frame longer than any request) and ends with its CRIU', async () => {
    const r = start(await standIn('criu-waits-2', 'exec sleep 87662'));
    await expect.poll(() => running('sleep 87662'), { timeout: 10_000 }).toHaveLength(1);
    const stdin = (r as unknown as { child: { stdin: NodeJS.WritableStream } }).child.stdin;
    stdin.write(Buffer.from([0xff, 0xff, 0xff, 0x7f])); // 2 GiB "work folder"
    const { code } = await r.relayExit;
    expect(code).toBe(121);
    await expect.poll(() => running('sleep 87662'), { timeout: 10_000 }).toEqual([]);
  });

  it('refuses a request naming a work folder that does not exist, and says which', async () => {
    const r = start(await standIn('criu-waits-3', 'exec sleep 87663'));
    const out = await r.restore({ workDir: join(dir, 'nowhere'), imagesDir: dir, hostname: 'h' }, { logFile: 'x.log', logLevel: 2, root: '/', external: [], inheritFds: [], lazyPages: false });
    expect(out.response).toBeNull();
    expect(await r.failure()).toMatch(/got a request it could not use: .*nowhere: No such file or directory/);
    await expect.poll(() => running('sleep 87663'), { timeout: 10_000 }).toEqual([]);
  });

  it('runs CRIU in IPC and UTS namespaces of the clone\'s own and names the clone before CRIU reads the request', async () => {
    const seen = join(dir, 'seen');
    // the stand-in tells where it runs, reads the request (by then the relay has named the clone),
    // then tells the name it sees
    const r = start(await standIn('criu-names', `readlink /proc/self/ns/ipc /proc/self/ns/uts > ${seen}.ns; head -c 1 <&5 >/dev/null; cat /proc/sys/kernel/hostname > ${seen}; exec sleep 87665`));
    await r.ready();
    await expect.poll(() => readFile(`${seen}.ns`, 'utf8').catch(() => ''), { timeout: 10_000 }).toMatch(/uts/);
    const [ipc, uts] = (await readFile(`${seen}.ns`, 'utf8')).trim().split('\n');
    expect(ipc).not.toBe(await readlink('/proc/self/ns/ipc'));
    expect(uts).not.toBe(await readlink('/proc/self/ns/uts'));
    void r.restore({ workDir: dir, imagesDir: dir, hostname: 'clone-7' }, { logFile: 'x.log', logLevel: 2, root: '/', external: [], inheritFds: [], lazyPages: false });
    await expect.poll(() => readFile(seen, 'utf8').catch(() => ''), { timeout: 10_000 }).toBe('clone-7\n');
    expect(await readFile('/proc/sys/kernel/hostname', 'utf8')).not.toBe('clone-7\n'); // the host keeps its name
  });

  it('refuses a request that names no hostname (the clone would see the host\'s) and ends with its CRIU', async () => {
    const r = start(await standIn('criu-waits-5', 'exec sleep 87666'));
    const out = await r.restore({ workDir: dir, imagesDir: dir, hostname: '' }, { logFile: 'x.log', logLevel: 2, root: '/', external: [], inheritFds: [], lazyPages: false });
    expect(out.response).toBeNull();
    expect(await r.failure()).toMatch(/got a request it could not use: .*names no hostname/);
    await expect.poll(() => running('sleep 87666'), { timeout: 10_000 }).toEqual([]);
  });

  it('runs CRIU in the clone\'s cgroups from the start, and they keep it when renamed for the instance', async () => {
    const cg = await InstanceCgroup.make(`ready-test-${process.pid}`);
    let renamed: InstanceCgroup | undefined;
    try {
      const r = start(await standIn('criu-waits-4', 'exec sleep 87664'), { cgroupProcs: cg.procsFiles });
      await expect.poll(() => running('sleep 87664'), { timeout: 10_000 }).toHaveLength(1);
      const [criu] = await running('sleep 87664');
      expect((await cg.pids()).sort()).toEqual([r.pid!, criu!].sort());
      renamed = await cg.renameTo(`claimed-test-${process.pid}`);
      await renamed.setLimits({ memoryMB: 64 });
      expect((await renamed.pids()).sort()).toEqual([r.pid!, criu!].sort());
      expect(await readFile(join(renamed.dir('memory'), 'memory.limit_in_bytes'), 'utf8')).toBe(`${64 * 1024 * 1024}\n`);
    } finally {
      for (const r of started.splice(0)) r.kill();
      await (renamed ?? cg).remove();
    }
  });

  it('fails to start on a socket path too long to bind, naming it', async () => {
    const r = start(await standIn('criu-never', 'exec sleep 87665'), { listenerPath: join(dir, 'x'.repeat(120)) });
    await expect(r.ready()).rejects.toThrow(/could not be set up: .*listener path: File name too long/);
    const { code } = await r.relayExit;
    expect(code).toBe(120);
    expect(await r.failure()).toMatch(/could not be set up: .*listener path: File name too long/);
    expect(await running('sleep 87665')).toEqual([]);
  });
});
