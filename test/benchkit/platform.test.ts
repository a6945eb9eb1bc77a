import { describe, it, expect, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestPlatform, removeState, type TestPlatform } from '../platform/harness.js';

const BIN = resolve(import.meta.dirname, '../../bin/hivelab.js');

describe('hivelab bench against the real platform', () => {
  let t: TestPlatform | undefined;
  let out = '';
  afterAll(async () => {
    await t?.stop();
    if (t) await removeState(t.stateDir);
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('runs a warm experiment and a chain over XDT, writing statistics, plots and the report', async () => {
    t = await startTestPlatform();
    out = await mkdtemp(join(tmpdir(), 'hivelab-bench-out-'));
    const file = join(out, 'exp.yaml');
    // The send-lag bound is loose on purpose: CI machines are noisy, and this test is about the
    // kit and the platform working together, not about the kit's precision.
    await writeFile(
      file,
      [
        'provider: hivelab',
        'maxSendLagP99Ms: 5000',
        'subExperiments:',
        '  - title: warm',
        '    bursts: 12',
        '    iatSeconds: 0.05',
        '    warmup: 2',
        '  - title: chain xdt',
        '    bursts: 6',
        '    iatSeconds: 0.1',
        '    chainLength: 2',
        '    transfer: xdt',
        '    payloadBytes: 200000',
        '    warmup: 1',
        '  - title: suite function by name',
        '    function: fibonacci-python',
        '    bursts: 3',
        '    iatSeconds: 0.1',
      ].join('\n'),
    );
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'bench', file, '--state', t.stateDir, '--out', join(out, 'results'), '--json'], {
      timeout: 300_000,
      maxBuffer: 16 << 20,
    });
    const summary = JSON.parse(stdout) as { subExperiments: { title: string; count: number; errors: number; p50Ms: number; p99Ms: number; tmr: number }[] };
    expect(summary.subExperiments.map((s) => s.title)).toEqual(['warm', 'chain xdt', 'suite function by name']);
    const [warm, chain, suite] = summary.subExperiments;
    expect(warm).toMatchObject({ count: 12, errors: 0 });
    expect(chain).toMatchObject({ count: 6, errors: 0 });
    expect(suite).toMatchObject({ count: 3, errors: 0 });
    for (const s of summary.subExperiments) {
      expect(s.p50Ms).toBeGreaterThan(0);
      expect(s.p99Ms).toBeGreaterThanOrEqual(s.p50Ms);
      // The summary rounds each figure to 3 decimals: compare within a relative 0.1 %.
      expect(Math.abs(s.tmr - s.p99Ms / s.p50Ms) / s.tmr).toBeLessThan(1e-3);
    }
    const report = await readFile(join(out, 'results', 'report.html'), 'utf8');
    expect(report).toContain('chain xdt');
    // The bench functions were removed again.
    expect((await t.api('GET', '/v1/functions')).json().functions).toEqual([]);
  });
});
