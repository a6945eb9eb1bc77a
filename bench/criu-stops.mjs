#!/usr/bin/env node
// What CRIU's syscall stops (CRIU_FAULT=130, src/snapshot/README.md) cost, as far as this machine
// can tell: dumps and restores a Node process (its threads included) with -v4 logs and counts, per
// dump and restore, the syscall stops compel makes after the point where a hardware breakpoint
// would have let the task run free, and the window they span (first stop to the final stop at
// rt_sigreturn). The window is an upper bound of the stops' cost: the parasite's and restorer's
// own work in it happens with breakpoints too. Breakpoints never fire on this host (AMD Zen 5), so
// the same run with breakpoints cannot be measured here.
//
//   node bench/criu-stops.mjs [--rounds 5]
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { criuBinary, cleanEnv } from '../dist/snapshot/criu.js';

const run = promisify(execFile);
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1] || 5);
const criu = criuBinary();
// HIVELAB_CRIU_BREAKPOINTS=1: compel's breakpoints, for the comparison on a host where they fire
// (here they never do: that run hangs until the 30 s timeout).
const env = cleanEnv();

function stops(log) {
  const lines = readFileSync(log, 'utf8').split('\n');
  const t = (l) => Number(/^\((\d+\.\d+)\)/.exec(l)?.[1] ?? NaN) * 1000;
  const stopLines = lines.filter((l) => /is going to execute the syscall|was trapped|was stopped|Force no-breakpoints/.test(l));
  const syscalls = lines.filter((l) => /is going to execute the syscall/.test(l)).length;
  return { syscalls, windowMs: stopLines.length ? t(stopLines.at(-1)) - t(stopLines[0]) : 0 };
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const results = { dump: [], restore: [] };
for (let i = 0; i < rounds; i++) {
  const dir = mkdtempSync(join(tmpdir(), 'hivelab-criu-stops-'));
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  try {
    const gone = new Promise((r) => child.once('exit', r));
    await run(criu, ['dump', '-t', String(child.pid), '-D', dir, '-o', 'dump.log', '-v4'], { env, timeout: 30_000 });
    results.dump.push(stops(join(dir, 'dump.log')));
    await gone; // reaped: its PID is free for the restore
    await run(criu, ['restore', '-D', dir, '-o', 'restore.log', '-v4', '--restore-detached', '--pidfile', join(dir, 'pid')], { env, timeout: 30_000 });
    results.restore.push(stops(join(dir, 'restore.log')));
    process.kill(Number(readFileSync(join(dir, 'pid'), 'utf8')), 'SIGKILL');
  } finally {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  }
}
const threads = 'node -e setInterval (main thread + libuv/V8 threads)';
for (const phase of ['dump', 'restore']) {
  const r = results[phase];
  console.log(`${phase}: ${threads}: syscall stops median ${median(r.map((x) => x.syscalls))}, stop window median ${median(r.map((x) => x.windowMs)).toFixed(2)} ms (n=${r.length})`);
}
