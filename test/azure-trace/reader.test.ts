import { describe, expect, it, beforeAll } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readAzureTrace, readInvocations, readTraceDay, TraceFormatError } from '../../src/azure-trace/index.js';
import { scratchDir } from '../helpers/scratch.js';

let dir: string;

const INV = `HashOwner,HashApp,HashFunction,Trigger,1,2,3,4,5
o1,a1,f1,http,0,2,0,0,1
o1,a1,f2,timer,1,0,1,0,1\r
o2,a9,f3,queue,0,0,0,0,0
`;
const DUR = `HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,percentile_Average_99,percentile_Average_100
o1,a1,f1,120.5,3,10,900,10,12,50,100,150,800,900
o1,a1,f2,2000,3,1500,2500,1500,1510,1800,2000,2200,2490,2500
`;
const MEM = `HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,AverageAllocatedMb_pct100
o1,a1,42,170,120,130,150,168,190,210,220,230
`;

beforeAll(async () => {
  dir = await scratchDir('hivelab-trace-');
  await writeFile(join(dir, 'invocations_per_function_md.anon.d01.csv'), INV);
  await writeFile(join(dir, 'function_durations_percentiles.anon.d01.csv'), DUR);
  await writeFile(join(dir, 'app_memory_percentiles.anon.d01.csv'), MEM);
  // day 2: only an invocations file, and f3 missing, a new f4
  await writeFile(join(dir, 'invocations_per_function_md.anon.d02.csv'), `HashOwner,HashApp,HashFunction,Trigger,1,2,3,4,5\no1,a1,f1,http,3,0,0,0,0\no3,a3,f4,event,0,0,0,0,7\n`);
});

describe('Azure trace reader', () => {
  it('reads a day: counts per minute, durations per function, memory per app', async () => {
    const t = await readTraceDay(dir, 'd01');
    expect(t.minutes).toBe(5);
    expect(t.functions.map((f) => [f.hashFunction, f.trigger, f.perMinute])).toEqual([
      ['f1', 'http', [0, 2, 0, 0, 1]],
      ['f2', 'timer', [1, 0, 1, 0, 1]],
      ['f3', 'queue', [0, 0, 0, 0, 0]],
    ]);
    const [f1, f2, f3] = t.functions;
    expect(f1!.duration).toEqual({
      averageMs: 120.5,
      count: 3,
      minimumMs: 10,
      maximumMs: 900,
      percentilesMs: { '0': 10, '1': 12, '25': 50, '50': 100, '75': 150, '99': 800, '100': 900 },
    });
    expect(f2!.memory).toEqual(f1!.memory);
    expect(f1!.memory).toEqual({ sampleCount: 42, averageMB: 170, percentilesMB: { '1': 120, '5': 130, '25': 150, '50': 168, '75': 190, '95': 210, '99': 220, '100': 230 } });
    expect(f3!.duration).toBeUndefined();
    expect(f3!.memory).toBeUndefined();
  });

  it('joins days into one timeline, zero-filling functions absent on a day', async () => {
    const t = await readAzureTrace(dir);
    expect(t.minutes).toBe(10);
    expect(t.day).toBe('d01-d02');
    const by = Object.fromEntries(t.functions.map((f) => [f.hashFunction, f]));
    expect(by.f1!.perMinute).toEqual([0, 2, 0, 0, 1, 3, 0, 0, 0, 0]);
    expect(by.f3!.perMinute).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(by.f4!.perMinute).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 7]);
    expect(by.f1!.duration?.averageMs).toBe(120.5);
    expect((await readAzureTrace(dir, { days: 1 })).minutes).toBe(5);
    await expect(readAzureTrace(dir, { days: ['d07'] })).rejects.toThrow(/trace day d07 not in/);
  });

  it('rejects a malformed count with file:line:column', async () => {
    const f = join(dir, 'bad.csv');
    await writeFile(f, 'HashOwner,HashApp,HashFunction,Trigger,1,2,3,4,5\no1,a1,f1,http,0,2,0,0,1\no1,a1,f2,timer,1,0,x,0,1\n');
    const err = await readInvocations(f).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TraceFormatError);
    expect((err as TraceFormatError).message).toBe(`${f}:3:20: minute 3: expected a non-negative number, found "x"`);
    expect(err).toMatchObject({ file: f, line: 3, column: 20 });
  });

  it('rejects short rows, fractional counts, bad headers and a missing percentile column', async () => {
    const f = join(dir, 'bad2.csv');
    await writeFile(f, 'HashOwner,HashApp,HashFunction,Trigger,1,2,3\no,a,f,http,1,2\n');
    await expect(readInvocations(f)).rejects.toThrow(`${f}:2:15: expected 7 cells (4 keys + 3 minutes), found 6`);
    await writeFile(f, 'HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f,http,1,2.5\n');
    await expect(readInvocations(f)).rejects.toThrow(`${f}:2:14: minute 2: expected a whole count, found "2.5"`);
    await writeFile(f, 'HashOwner,HashApp,HashFunction,Trigger,1,3\n');
    await expect(readInvocations(f)).rejects.toThrow(`${f}:1:42: minute columns must count up by one: "3" follows "1"`);
    const d = join(dir, 'function_durations_percentiles.anon.d09.csv');
    await writeFile(d, DUR.replace(',percentile_Average_99', ''));
    const { readDurations } = await import('../../src/azure-trace/reader.js');
    await expect(readDurations(d)).rejects.toThrow(/:1:1: header lacks column "percentile_Average_99"/);
    await writeFile(d, DUR.split('\n')[0] + '\no1,a1,f1,1,1,1,1,1,1,1\n');
    await expect(readDurations(d)).rejects.toThrow(`${d}:2:23: row ends before column percentile_Average_50 (10 cells)`);
  });

  it('accepts real-data number styles and a per-function memory file (In-Vitro variant)', async () => {
    const d = await scratchDir('hivelab-trace-');
    await writeFile(join(d, 'invocations_per_function_md.anon.d03.csv'), 'HashOwner,HashApp,HashFunction,Trigger,1\no,a,f,http,4\no,a,g,http,1\n');
    // as in the published files: float minimum/maximum, zero percentiles, p100 below Maximum
    await writeFile(join(d, 'function_durations_percentiles.anon.d03.csv'), DUR.split('\n')[0] + '\no,a,f,100,2880,0.0,2595.0,0,0,0,1,1,1376,2595\n');
    await writeFile(
      join(d, 'app_memory_percentiles.anon.d03.csv'),
      'HashOwner,HashApp,HashFunction,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,AverageAllocatedMb_pct100\no,a,g,3,99.5,90,91,92,93,94,95,96,97\n',
    );
    const t = await readTraceDay(d, 'd03');
    expect(t.functions[0]!.duration).toMatchObject({ minimumMs: 0, maximumMs: 2595, percentilesMs: { '50': 1, '99': 1376 } });
    expect(t.functions[0]!.memory).toBeUndefined();
    expect(t.functions[1]!.memory?.averageMB).toBe(99.5);
  });

  it('accepts a real-sized header (1440 minute columns)', async () => {
    const f = join(dir, 'full.csv');
    const header = ['HashOwner', 'HashApp', 'HashFunction', 'Trigger', ...Array.from({ length: 1440 }, (_, i) => String(i + 1))].join(',');
    const row = ['o', 'a', 'f', 'http', ...Array.from({ length: 1440 }, (_, i) => String(i % 3))].join(',');
    await writeFile(f, `${header}\n${row}\n`);
    const r = await readInvocations(f);
    expect(r.minutes).toBe(1440);
    expect(r.functions[0]!.perMinute.reduce((a, b) => a + b, 0)).toBe(1440);
    expect((await readFile(f, 'utf8')).length).toBeGreaterThan(0);
  });
});
