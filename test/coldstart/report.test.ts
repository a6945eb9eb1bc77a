import { describe, expect, it } from 'vitest';
import { percentile, summarize } from '../../src/benchkit/coldstart/summary.js';
import { toCsv, toTable } from '../../src/benchkit/coldstart/report.js';
import type { StudyReport } from '../../src/benchkit/coldstart/study.js';

describe('cold-start study reporting', () => {
  it('summarizes with the platform percentile (interpolated), zeros when empty', () => {
    expect(summarize([5, 1, 3])).toEqual({ median: 3, p99: 4.96, mean: 3 });
    expect(summarize([])).toEqual({ median: 0, p99: 0, mean: 0 });
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
  });

  it('writes one CSV row per function x mode x concurrency, and a table with the disk figure', () => {
    const report: StudyReport = {
      disk: { directReadMBps: 1900 },
      snapshots: { available: true },
      results: [
        {
          function: 'helloworld-node',
          mode: 'reap',
          cache: 'host-cold',
          concurrency: 1,
          iterations: 5,
          latencyMs: { median: 150, p99: 180, mean: 155 },
          breakdownMs: { restore: 110, criu: 12.3, connect: 30, processing: 5, fetchWs: 4, installWs: 1 },
          pages: { ws: 838, prefetched: 827, onDemand: 11 },
          wsBytes: 3432448,
          wsReadMBps: 800,
          rssMB: 18.8,
          modesUsed: ['reap'],
          errors: 0,
          recordPhase: { latencyMs: 231, recordMs: 45 },
        },
      ],
    };
    const csv = toCsv(report).trim().split('\n');
    expect(csv).toHaveLength(2);
    expect(csv[0]).toMatch(/^function,mode,cache,conc,n,median_ms/);
    expect(csv[1]).toContain('helloworld-node,reap,host-cold,1,5,150.0');
    expect(csv[0]).toContain('restore_ms,criu_ms,connect_ms');
    expect(csv[1]).toContain(',110.0,12.3,30.0,');
    expect(toTable(report)).toContain('disk: one O_DIRECT read 1900 MB/s');
  });
});
