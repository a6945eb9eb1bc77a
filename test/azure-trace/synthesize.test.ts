import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readAzureTrace, readTraceDay, runTraceSynth, synthesizeTrace } from '../../src/azure-trace/index.js';
import { scratchDir } from '../helpers/scratch.js';

describe('trace synthesiser', () => {
  it('writes files the reader accepts, deterministic from the seed, with heavy-tailed rates', async () => {
    const a = await scratchDir('hivelab-synth-');
    const b = await scratchDir('hivelab-synth-');
    const s = await synthesizeTrace({ functions: 400, days: 2, seed: 7, outDir: a });
    await synthesizeTrace({ functions: 400, days: 2, seed: 7, outDir: b });
    expect(s.files).toHaveLength(6);
    for (const f of s.files) expect(await readFile(join(a, f), 'utf8')).toBe(await readFile(join(b, f), 'utf8'));

    const day1 = await readTraceDay(a, 'd01');
    expect(day1.minutes).toBe(1440);
    expect(day1.functions).toHaveLength(400);
    const t = await readAzureTrace(a);
    expect(t.minutes).toBe(2880);
    expect(t.functions).toHaveLength(400);
    const totals = t.functions.map((f) => f.perMinute.reduce((x, y) => x + y, 0));
    expect(totals.reduce((x, y) => x + y, 0)).toBe(s.invocations);
    // Heavy tail: the busiest 5 % of functions carry most invocations; most functions are rare.
    const sorted = [...totals].sort((x, y) => y - x);
    const top = sorted.slice(0, 20).reduce((x, y) => x + y, 0);
    expect(top / s.invocations).toBeGreaterThan(0.5);
    expect(totals.filter((n) => n <= 2 * 24 * 60).length / 400).toBeGreaterThan(0.6); // ≤ 1 per minute on average
    // Timer functions fire on a fixed period.
    const timer = t.functions.find((f) => f.trigger === 'timer' && f.perMinute.filter((x) => x > 0).length > 20)!;
    const fires = timer.perMinute.flatMap((x, i) => (x > 0 ? [i] : []));
    const gaps = new Set(fires.slice(1).map((m, i) => m - fires[i]!));
    expect(Math.min(...gaps)).toBeGreaterThan(0);
    expect([...gaps].every((g) => g % Math.min(...gaps) === 0)).toBe(true);
    // Every function that ran has durations; every app has memory.
    for (const f of day1.functions) {
      if (f.perMinute.some((x) => x > 0)) {
        expect(f.duration!.count).toBe(f.perMinute.reduce((x, y) => x + y, 0));
        const p = f.duration!.percentilesMs;
        expect(p['0']! <= p['50']! && p['50']! <= p['99']! && p['99']! <= p['100']!).toBe(true);
      }
      expect(f.memory!.averageMB).toBeGreaterThan(0);
    }
    const c = await synthesizeTrace({ functions: 400, days: 1, seed: 8, outDir: await scratchDir('hivelab-synth-') });
    expect(c.invocations).not.toBe(s.invocations);
  });

  it('CLI entry: writes the files and reports usage errors with exit code 2', async () => {
    const out = await scratchDir('hivelab-synth-');
    let text = '';
    expect(await runTraceSynth(['--functions', '20', '--days', '1', '--out', out, '--seed', '3'], (s) => (text += s))).toBe(0);
    expect(text).toMatch(/wrote 3 files .*20 functions/);
    expect((await readTraceDay(out, 'd01')).functions).toHaveLength(20);
    expect(await runTraceSynth(['--days', '1', '--out', out], () => {})).toBe(2);
    expect(await runTraceSynth(['--functions', 'many', '--out', out], () => {})).toBe(2);
  });
});
