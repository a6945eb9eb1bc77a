import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplayPlan } from '../../src/benchkit/replay/planner.js';
import { runReplay } from '../../src/benchkit/replay/run.js';
import { scratchDir } from '../helpers/scratch.js';

// Stands in for bench-trace: waits durationMs, reports the duration it measured.
let server: http.Server;
let url: string;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
      const ev = JSON.parse(Buffer.concat(chunks).toString());
      const t0 = performance.now();
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json', 'x-hivelab-cold': req.url === '/f0' ? '1' : '0' }).end(JSON.stringify({ actualDurationMs: performance.now() - t0 })), ev.durationMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('replay run', () => {
  it('sends the plan and writes invocations.csv with requested and actual durations', async () => {
    const fn = (index: number) => ({ index, hashApp: `a${index}`, hashFunction: `f${index}`, trigger: 'http', memoryMB: 128, perMinute: [3], duration: { averageMs: 1, count: 1, minimumMs: 1, maximumMs: 1, percentilesMs: {} } });
    const plan: ReplayPlan = {
      minutes: 1,
      iat: 'equidistant',
      functions: [fn(0), fn(1)],
      invocations: [
        { id: 0, fn: 0, scheduledMs: 0, requestedDurationMs: 40, allocMB: 0 },
        { id: 1, fn: 1, scheduledMs: 10, requestedDurationMs: 20, allocMB: 0 },
        { id: 2, fn: 0, scheduledMs: 30, requestedDurationMs: 40, allocMB: 0 },
        { id: 3, fn: 1, scheduledMs: 60, requestedDurationMs: 20, allocMB: 0 },
      ],
    };
    const out = await scratchDir('bk-replay-');
    const res = await runReplay(plan, { urls: [`${url}/f0`, `${url}/f1`], headers: {} }, { outDir: out, plots: false });
    expect(res.written.summary.count).toBe(4);
    const rows = (await readFile(res.invocationsCsv, 'utf8')).trim().split('\n').map((l) => l.split(','));
    expect(rows[0]).toEqual(['function', 'app', 'request_id', 'scheduled_ms', 'sent_ms', 'latency_ms', 'requested_duration_ms', 'actual_duration_ms', 'cold', 'status', 'instance']);
    expect(rows.slice(1).map((r) => [r[0], r[2], r[6], r[8], r[9]])).toEqual([
      ['f0', '0', '40.000', '1', '200'],
      ['f1', '1', '20.000', '0', '200'],
      ['f0', '2', '40.000', '1', '200'],
      ['f1', '3', '20.000', '0', '200'],
    ]);
    for (const r of rows.slice(1)) {
      expect(Number(r[7])).toBeGreaterThanOrEqual(Number(r[6]) - 1); // actual ≈ requested
      expect(Number(r[5])).toBeGreaterThanOrEqual(Number(r[7])); // latency includes the execution
    }
    const fns = JSON.parse(await readFile(join(out, 'functions.json'), 'utf8'));
    expect(fns.map((f: { function: string; coldCount: number }) => [f.function, f.coldCount])).toEqual([['f0', 2], ['f1', 0]]);
    expect(await readFile(join(out, 'report.html'), 'utf8')).toContain('hivelab replay');
  });
});
