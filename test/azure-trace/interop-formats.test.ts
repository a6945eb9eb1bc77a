import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readAzureTrace, UnknownTraceError } from '../../src/azure-trace/index.js';
import { simulateTrace } from '../../src/simulator/simulate.js';
import { planReplay } from '../../src/benchkit/replay/planner.js';
import { scratchDir } from '../helpers/scratch.js';

/**
 * Traces as published and as In-Vitro ships them (test/fixtures/invitro, unmodified), each read,
 * checked against numbers computed here from the raw CSV, and fed to `simulate` and `replay`.
 */
const INVITRO = resolve(import.meta.dirname, '../fixtures/invitro');
const REPO = resolve(import.meta.dirname, '../..');

/** Rows of a CSV as objects, naively (the fixtures have no quoting). */
async function csv(file: string): Promise<Record<string, string>[]> {
  const [head, ...rows] = (await readFile(file, 'utf8')).split(/\r?\n/).filter((l) => l.trim());
  const cols = head!.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i]!, v])));
}

describe('In-Vitro trace folders (Azure 2019 format, In-Vitro file names)', () => {
  for (const folder of ['example', 'pkg-trace-test_data', 'mapper-extremes', 'sampler-layout/samples/2']) {
    it(`${folder}: per-minute counts, durations and per-function memory as in the files; simulate and replay run`, async () => {
      const dir = join(INVITRO, folder);
      const trace = await readAzureTrace(dir);
      const inv = await csv(join(dir, 'invocations.csv'));
      const dur = await csv(join(dir, 'durations.csv'));
      const mem = await csv(join(dir, 'memory.csv'));
      const keys = new Set(['HashOwner', 'HashApp', 'HashFunction', 'Trigger']);
      const minuteCols = Object.keys(inv[0]!).filter((k) => !keys.has(k));
      expect(trace.minutes).toBe(minuteCols.length);
      expect(trace.functions).toHaveLength(inv.length);
      inv.forEach((row, i) => {
        const f = trace.functions[i]!;
        expect(f.hashFunction).toBe(row.HashFunction);
        expect(f.perMinute.reduce((a, b) => a + b, 0)).toBe(minuteCols.reduce((s, c) => s + Number(row[c]), 0));
        const d = dur.find((r) => r.HashFunction === row.HashFunction);
        if (d) expect(f.duration).toMatchObject({ averageMs: Number(d.Average), count: Number(d.Count), percentilesMs: { '50': Number(d.percentile_Average_50) } });
        const m = mem.find((r) => r.HashFunction === row.HashFunction);
        if (m) expect(f.memory?.averageMB).toBe(Number(m.AverageAllocatedMb));
      });
      expect(trace.functions.some((f) => f.duration && f.memory)).toBe(true);
      const sim = simulateTrace(trace, { policy: 'kpa' });
      expect(sim.invocations).toBe(trace.functions.reduce((s, f) => s + f.perMinute.reduce((a, b) => a + b, 0), 0));
      const plan = planReplay(trace, { sample: 1, minutes: Math.min(2, trace.minutes), seed: 1 });
      expect(plan.functions).toHaveLength(1);
      expect(plan.invocations.length).toBe(plan.functions[0]!.perMinute.reduce((a, b) => a + b, 0));
    });
  }

  it('mapper-extremes: minute columns start at 540 and memory.csv puts HashFunction first (any column order)', async () => {
    const header = (await readFile(join(INVITRO, 'mapper-extremes/invocations.csv'), 'utf8')).split('\n')[0]!;
    expect(header.split(',')[4]).toBe('540');
    const t = await readAzureTrace(join(INVITRO, 'mapper-extremes'));
    expect(t.functions.every((f) => f.memory !== undefined)).toBe(true);
  });

  it('the sampler output root names its sample sizes instead of guessing', async () => {
    await expect(readAzureTrace(join(INVITRO, 'sampler-layout'))).rejects.toThrow(/In-Vitro sampler output: name one sample, e\.g\. .*samples\/2 \(sizes: 2\)/);
  });

  it('no Trigger column and shuffled key columns read too', async () => {
    const d = await scratchDir('hivelab-invitro-');
    await writeFile(join(d, 'invocations.csv'), 'HashFunction,HashApp,HashOwner,1,2,3\nf,a,o,1,0,2\n');
    const t = await readAzureTrace(d);
    expect(t.functions[0]).toMatchObject({ hashOwner: 'o', hashApp: 'a', hashFunction: 'f', trigger: 'unknown', perMinute: [1, 0, 2] });
  });
});

describe('Azure Functions 2021 invocation log', () => {
  it('Azure2021_30.csv: (app, func) functions, invocations binned by start minute, durations from the invocations', async () => {
    const file = join(INVITRO, 'example/Azure2021/Azure2021_30.csv');
    const rows = await csv(file);
    const t = await readAzureTrace(file);
    const keys = new Set(rows.map((r) => `${r.app}/${r.func}`));
    expect(t.functions).toHaveLength(keys.size);
    const total = t.functions.reduce((s, f) => s + f.perMinute.reduce((a, b) => a + b, 0), 0);
    expect(total).toBe(rows.length);
    const lastStart = Math.max(...rows.map((r) => Number(r.end_timestamp) - Number(r.duration)));
    expect(t.minutes).toBe(Math.floor(lastStart / 60) + 1);
    const first = rows[0]!;
    const f = t.functions.find((x) => x.hashApp === first.app && x.hashFunction === first.func)!;
    const mine = rows.filter((r) => r.app === first.app && r.func === first.func);
    expect(f.duration!.count).toBe(mine.length);
    expect(f.duration!.maximumMs).toBeCloseTo(Math.max(...mine.map((r) => Number(r.duration) * 1000)), 6);
    expect(f.perMinute[Math.floor((Number(first.end_timestamp) - Number(first.duration)) / 60)]).toBeGreaterThan(0);
    expect(simulateTrace(t, { policy: 'kpa' }).invocations).toBe(rows.length);
    const plan = planReplay(t, { sample: 2, minutes: 1, seed: 3 });
    expect(plan.invocations.length).toBe(plan.functions.reduce((s, fn) => s + fn.perMinute[0]!, 0));
  });

  it('Azure2021_200.csv reads; a folder with both files asks which', async () => {
    const t = await readAzureTrace(join(INVITRO, 'example/Azure2021/Azure2021_200.csv'));
    expect(t.functions.reduce((s, f) => s + f.perMinute.reduce((a, b) => a + b, 0), 0)).toBe((await csv(join(INVITRO, 'example/Azure2021/Azure2021_200.csv'))).length);
    await expect(readAzureTrace(join(INVITRO, 'example/Azure2021'))).rejects.toThrow(/several Azure 2021 traces \(Azure2021_200\.csv, Azure2021_30\.csv\)/);
  });

  it('an invocation that would start before the trace is refused at its cell', async () => {
    const d = await scratchDir('hivelab-2021-');
    const f = join(d, 'trace.txt');
    await writeFile(f, 'app,func,end_timestamp,duration\na,f,1.0,2.5\n');
    await expect(readAzureTrace(f)).rejects.toThrow(/trace\.txt:2:\d+: duration 2\.5 s is longer than end_timestamp 1 s/);
  });
});

describe('an unknown trace', () => {
  it('names the files and columns it expected', async () => {
    const d = await scratchDir('hivelab-unknown-');
    await writeFile(join(d, 'calls.csv'), 'when,who\n1,2\n');
    const err = await readAzureTrace(d).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownTraceError);
    const msg = (err as Error).message;
    for (const s of ['found calls.csv', 'invocations_per_function_md.anon.dNN.csv', 'invocations.csv (HashOwner,HashApp,HashFunction[,Trigger]', 'app,func,end_timestamp,duration', 'durations.csv', 'memory.csv']) expect(msg).toContain(s);
    await expect(readAzureTrace(join(d, 'calls.csv'))).rejects.toThrow(/a file whose header is "when,who"/);
  });

  it('hivelab simulate reads In-Vitro folders and the 2021 log from the command line', () => {
    for (const trace of [join(INVITRO, 'example'), join(INVITRO, 'example/Azure2021/Azure2021_30.csv')]) {
      const r = spawnSync(process.execPath, [join(REPO, 'bin/hivelab.js'), 'simulate', '--trace', trace, '--policy', 'kpa', '--json'], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ policy: 'kpa', invocations: expect.any(Number) });
    }
  });
});
