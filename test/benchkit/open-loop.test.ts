import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOpenLoop, type OutgoingRequest } from '../../src/benchkit/client.js';
import { parseExperiment } from '../../src/benchkit/experiment.js';
import { EndpointsProvider } from '../../src/benchkit/providers/endpoints.js';
import { runExperiment } from '../../src/benchkit/runner.js';
import bench from '../../src/cli/commands/bench.js';
import { startDelayServer, type DelayServer } from './delay-server.js';
import { scratchDir } from '../helpers/scratch.js';

let srv: DelayServer;
beforeAll(async () => {
  srv = await startDelayServer('inst-A');
});
afterAll(async () => {
  await srv.close();
});

// Long enough that the last burst (due at 80 ms) leaves before any response even if this shared
// machine stalls the client for a while.
const DELAY = 300;
// Generous upper slack: other engineers' CPU-heavy tests share these two cores.
const SLACK = 400;

const base = { timeoutMs: 10_000, coldThresholdMs: 10_000, keepBodies: false, connections: null, reuseConnections: true } as const;

describe('open-loop client against a delay server', () => {
  it('sends on schedule without waiting for responses; latencies bracket the delay', async () => {
    const reqs: OutgoingRequest[] = [];
    for (let b = 0; b < 5; b++) for (let k = 0; k < 2; k++) reqs.push({ id: reqs.length, burstId: b, replica: 0, scheduledMs: b * 20, url: `${srv.url}/delay/${DELAY}?cold=${b === 0 ? 1 : 0}`, body: Buffer.from('{}') });
    const res = await runOpenLoop(reqs, base);
    expect(res.records).toHaveLength(10);
    expect(res.interrupted).toBe(false);
    // Open loop: the last burst (due at 80 ms) left before the first response (≥ 300 ms) came back.
    const lastSent = Math.max(...res.records.map((r) => r.sentMs));
    const firstReceived = Math.min(...res.records.map((r) => r.receivedMs));
    expect(lastSent).toBeLessThan(firstReceived);
    for (const r of res.records) {
      expect(r.status).toBe(200);
      expect(r.latencyMs).toBeGreaterThanOrEqual(DELAY - 1); // timer granularity of the server's setTimeout
      expect(r.latencyMs).toBeLessThan(DELAY + SLACK);
      expect(r.sentMs).toBeGreaterThanOrEqual(r.scheduledMs);
      expect(r.instanceId).toBe('inst-A');
      expect(r.coldFromHeader).toBe(true);
      expect(r.cold).toBe(r.burstId === 0);
      expect(r.receivedMs - r.sentMs).toBeCloseTo(r.latencyMs, 6);
    }
  });

  it('falls back to coldThresholdMs without the header, and records failures as errors', async () => {
    const res = await runOpenLoop(
      [
        { id: 0, burstId: 0, replica: 0, scheduledMs: 0, url: `${srv.url}/delay/${DELAY}`, body: Buffer.from('{}') },
        { id: 1, burstId: 0, replica: 0, scheduledMs: 0, url: `${srv.url}/delay/0`, body: Buffer.from('{}') },
        { id: 2, burstId: 1, replica: 0, scheduledMs: 5, url: `${srv.url}/fail`, body: Buffer.from('{}') },
        { id: 3, burstId: 1, replica: 0, scheduledMs: 5, url: 'http://127.0.0.1:1/', body: Buffer.from('{}') },
      ],
      { ...base, coldThresholdMs: 100 },
    );
    const [slow, fast, fail, refused] = res.records;
    expect(slow!.cold).toBe(true);
    expect(slow!.coldFromHeader).toBe(false);
    expect(fast!.cold).toBe(false);
    expect(fail!.status).toBe(500);
    expect(refused!.status).toBe(0);
    expect(refused!.error).toMatch(/ECONNREFUSED|connect/i);
  });

  it('reuses connections when asked, opens one per request otherwise', async () => {
    const reqs = (n: number): OutgoingRequest[] => Array.from({ length: n }, (_, i) => ({ id: i, burstId: i, replica: 0, scheduledMs: i * 50, url: `${srv.url}/delay/0`, body: Buffer.from('{}') }));
    let before = srv.connections();
    await runOpenLoop(reqs(6), { ...base, connections: 4, reuseConnections: true });
    // Arrivals 50 ms apart find the previous response done and reuse its connection (not asserted
    // to be exactly 1: a stall of this shared machine may delay a response past the next arrival).
    expect(srv.connections() - before).toBeLessThan(6);
    before = srv.connections();
    await runOpenLoop(reqs(6), { ...base, connections: 4, reuseConnections: false });
    expect(srv.connections() - before).toBe(6);
  });

  it('an abort stops sending and keeps what was measured', async () => {
    const ac = new AbortController();
    const reqs: OutgoingRequest[] = [];
    for (let b = 0; b < 50; b++) reqs.push({ id: b, burstId: b, replica: 0, scheduledMs: b * 20, url: `${srv.url}/delay/0`, body: Buffer.from('{}') });
    setTimeout(() => ac.abort(), 150);
    const res = await runOpenLoop(reqs, { ...base, signal: ac.signal });
    expect(res.interrupted).toBe(true);
    expect(res.records.length).toBeGreaterThan(0);
    expect(res.records.length).toBeLessThan(50);
  });
});

describe('an experiment over the endpoints provider', () => {
  it('writes latencies.csv, statistics.csv, summary.json, plots, report.html and table 3.1', async () => {
    const out = await scratchDir('bk-run-');
    const exp = parseExperiment({
      provider: 'endpoints',
      baseline: 'fast',
      subExperiments: [
        { title: 'fast', bursts: 10, iatSeconds: 0.01, payloadBytes: 100, endpoints: [`${srv.url}/delay/5`, `${srv.url}/delay/5?x=2`] },
        { title: 'slow', bursts: 4, burstSizes: [1, 3], iatSeconds: 0.02, coldThresholdMs: 50, endpoints: [`${srv.url}/delay/60`] },
      ],
    });
    const logs: string[] = [];
    const res = await runExperiment(exp, { outDir: out, provider: new EndpointsProvider(), log: (l) => logs.push(l) });
    expect(res.subs).toHaveLength(2);
    const [fast, slow] = res.subs;
    expect(fast!.summary.count).toBe(10);
    expect(slow!.summary.count).toBe(8); // burst sizes 1,3,1,3
    expect(slow!.summary.coldCount).toBe(8); // 60 ms ≥ coldThresholdMs 50
    expect(slow!.summary.p50).toBeGreaterThanOrEqual(59);
    expect(slow!.summary.p50).toBeLessThan(60 + SLACK);
    // The payload went out with every request; replicas were taken round-robin over the URLs.
    const bodies = srv.received.filter((r) => r.path === '/delay/5').map((r) => r.bodyBytes);
    expect(Math.min(...bodies)).toBeGreaterThan(100);
    const csv = (await readFile(join(fast!.dir, 'latencies.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('request_id,burst_id,replica,scheduled_ms,sent_ms,received_ms,latency_ms,status,cold,instance,hop_transfer_ms,error');
    expect(csv).toHaveLength(11);
    expect(csv.slice(1).map((l) => l.split(',')[2])).toEqual(['0', '1', '0', '1', '0', '1', '0', '1', '0', '1']);
    const stats = (await readFile(join(slow!.dir, 'statistics.csv'), 'utf8')).trim().split('\n');
    expect(stats[0]).toBe('count,errors,mean,sd,min,p25,p50,p75,p95,p99,max');
    expect(stats[1]!.split(',')[0]).toBe('8');
    const summary = JSON.parse(await readFile(join(slow!.dir, 'summary.json'), 'utf8'));
    expect(summary.tmr).toBeCloseTo(summary.p99 / summary.p50, 9);
    for (const plot of ['latency-cdf', 'latency-histogram', 'burst-latency']) {
      const png = await readFile(join(fast!.dir, `${plot}.png`));
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      const svg = await readFile(join(fast!.dir, `${plot}.svg`), 'utf8');
      expect(svg).toMatch(/<text[^>]*>[^<]*latency/); // axis titles are real text
    }
    const html = await readFile(res.reportFile!, 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('<td>slow</td>');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/); // self-contained
    const t31 = (await readFile(join(out, 'table-3.1.csv'), 'utf8')).trim().split('\n');
    expect(t31[1]).toMatch(/^fast,10,0,.*,1\.00,/);
  });

  it('a sub-experiment that cannot be deployed fails the run after the earlier ones are reported', async () => {
    const out = await scratchDir('bk-fail-');
    const exp = parseExperiment({
      provider: 'endpoints',
      subExperiments: [
        { title: 'ok', bursts: 2, iatSeconds: 0.01, endpoints: [`${srv.url}/delay/0`] },
        { title: 'no urls', bursts: 2, iatSeconds: 0.01 },
      ],
    });
    await expect(runExperiment(exp, { outDir: out, provider: new EndpointsProvider(), plots: false, log: () => {} })).rejects.toThrow(/sub-experiment "no urls": provider "endpoints" needs subExperiments\[\]\.endpoints or --endpoints FILE/);
    expect(await readFile(join(out, 'report.html'), 'utf8')).toContain('<td>ok</td>');
  });

  it('sequential: false runs the sub-experiments at the same time', async () => {
    const out = await scratchDir('bk-par-');
    const exp = parseExperiment({
      provider: 'endpoints',
      sequential: false,
      subExperiments: [
        { title: 'a', bursts: 6, iatSeconds: 0.04, endpoints: [`${srv.url}/delay/1?sub=a`] },
        { title: 'b', bursts: 6, iatSeconds: 0.04, endpoints: [`${srv.url}/delay/1?sub=b`] },
      ],
    });
    const from = srv.received.length;
    const res = await runExperiment(exp, { outDir: out, provider: new EndpointsProvider(), plots: false, log: () => {} });
    expect(res.subs.map((s) => s.summary.count)).toEqual([6, 6]);
    // Sequential would put all of a's requests before b's; in parallel b starts before a ends.
    const subs = srv.received.slice(from).map((r) => new URLSearchParams(r.query).get('sub'));
    expect(subs.filter((x) => x === 'a')).toHaveLength(6);
    expect(subs.indexOf('b')).toBeLessThan(subs.lastIndexOf('a'));
  });

  it('`hivelab bench --json` prints the per-sub-experiment summary', async () => {
    const dir = await scratchDir('bk-cli-');
    const file = join(dir, 'exp.yaml');
    await writeFile(file, `provider: endpoints\nsubExperiments:\n  - title: one\n    bursts: 5\n    iatSeconds: 0.01\n`);
    await writeFile(join(dir, 'urls.json'), JSON.stringify([`${srv.url}/delay/2?cold=0`]));
    const chunks: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((c: string) => (chunks.push(String(c)), true)) as typeof process.stdout.write;
    let code: number;
    try {
      code = await bench.run([file, '--json', '--out', join(dir, 'out'), '--endpoints', join(dir, 'urls.json'), '--no-plots']);
    } finally {
      process.stdout.write = write;
    }
    expect([0, 3]).toContain(code); // 3 only if this loaded machine made the client lag > 1 ms
    const json = JSON.parse(chunks.join(''));
    expect(json.subExperiments).toHaveLength(1);
    expect(json.subExperiments[0]).toMatchObject({ title: 'one', count: 5, errors: 0, coldCount: 0 });
    expect(Object.keys(json.subExperiments[0]).sort()).toEqual(['clientLagP99Ms', 'coldCount', 'count', 'errors', 'p50Ms', 'p99Ms', 'title', 'tmr']);
  });

  it('`hivelab bench` rejects an invalid experiment with exit code 2 naming the field', async () => {
    const dir = await scratchDir('bk-cli-');
    const file = join(dir, 'bad.yaml');
    await writeFile(file, `provider: endpoints\nsubExperiments:\n  - title: one\n    bursts: 5\n    iatSeconds: -1\n`);
    const errs: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((c: string) => (errs.push(String(c)), true)) as typeof process.stderr.write;
    try {
      expect(await bench.run([file])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(errs.join('')).toMatch(/subExperiments\[0\]\.iatSeconds/);
    await expect(bench.run([file, '--nice', '42'])).rejects.toThrow(/--nice must be an integer from -20 to 19, got "42"/);
  });
});
