import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { removeState } from '../platform/harness.js';
import { snapshotsUnavailable } from './helpers.js';

/** `hivelab coldstart` end to end: the real command, a real platform per mode, real CRIU. */

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../../bin/hivelab.js');
const HELLO = resolve(import.meta.dirname, '../../examples/hello-node');

const unavailable = await snapshotsUnavailable('the cold-start study command test');

describe.skipIf(unavailable)('hivelab coldstart --json', () => {
  let out = '';
  afterAll(async () => {
    if (out) await removeState(out);
  });

  it('prints only the report on stdout, even though the worker logs its snapshots meanwhile', async () => {
    out = await mkdtemp(join(tmpdir(), 'hivelab-study-'));
    const { stdout, stderr } = await run(
      process.execPath,
      [BIN, 'coldstart', '--functions', HELLO, '--modes', 'boot,snapshot', '--iterations', '1', '--cache', 'warm', '--out', out, '--json'],
      { timeout: 300_000, maxBuffer: 16 << 20 },
    );
    const report = JSON.parse(stdout) as { results: Array<{ function: string; mode: string; errors: number; modesUsed: string[]; iterations: number }>; disk: { directReadMBps: number } };
    expect(report.results.map((r) => r.mode)).toEqual(['boot', 'snapshot']);
    for (const r of report.results) {
      expect(r.errors, stderr).toBe(0);
      expect(r.iterations).toBe(1);
    }
    // The snapshot mode's cold start really was a restore, not a boot fallback.
    expect(report.results[1]!.modesUsed).toEqual(['snapshot']);
    expect(report.disk.directReadMBps).toBeGreaterThan(0);
    // Progress goes to stderr, and the CSV to --out.
    expect(stderr).toMatch(/disk: \d+ MB\/s/);
    expect(await readFile(join(out, 'coldstart.csv'), 'utf8')).toMatch(/^function,mode,/);
  }, 300_000);
});
