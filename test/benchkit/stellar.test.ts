import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { convertStellar, stellarSubDirName } from '../../src/benchkit/stellar/experiment-file.js';
import { assignStellarEndpoints, stellarGatewayUrl } from '../../src/benchkit/stellar/endpoints-file.js';
import { stellarRoundDelays, stellarStochasticMs } from '../../src/benchkit/stellar/iat.js';
import { empiricalQuantile, statisticsCsv } from '../../src/benchkit/stellar/results.js';
import { planRequests, stellarBurstSchedule } from '../../src/benchkit/schedule.js';
import { seededRng } from '../../src/benchkit/rng.js';
import { cdfSpec } from '../../src/benchkit/plots.js';
import { collapseLagViolations } from '../../src/benchkit/send-lag.js';
import { startDelayServer, type DelayServer } from './delay-server.js';
import { removeState, startTestPlatform, type TestPlatform } from '../platform/harness.js';

/** STeLLAR's own experiment and endpoints files (test/fixtures/stellar, unmodified). */
const FIX = resolve(import.meta.dirname, '../fixtures/stellar');
const BIN = resolve(import.meta.dirname, '../../bin/hivelab.js');
const run = promisify(execFile);
const json = async (f: string): Promise<unknown> => JSON.parse(await readFile(join(FIX, f), 'utf8'));

describe("STeLLAR's experiment files, converted", () => {
  it('every fixture file converts, with STeLLAR defaults where a field holds its zero value', async () => {
    for (const f of await readdir(join(FIX, 'experiments'))) {
      const c = convertStellar(await json(`experiments/${f}`), f, { endpoints: true, experimentDir: FIX });
      expect(c.experiment.subExperiments.length, f).toBeGreaterThan(0);
    }
    const c = convertStellar(await json('experiments/aws-hellopy.json'), 'aws-hellopy.json', { endpoints: true, experimentDir: FIX });
    expect(c.provider).toBe('aws');
    expect(c.experiment.sequential).toBe(false);
    expect(c.experiment.subExperiments[1]).toMatchObject({ bursts: 3, burstSizes: [4], replicas: 2, iatType: 'stellar-stochastic', iatSeconds: 0, serviceTimes: [0], memoryMB: 128, imageSizeMB: 48, requestFormat: 'stellar' });
    expect(stellarSubDirName(c.subs[0]!)).toBe('parallelism1-memory128MB-img24MB-IAT0s-burst2-st0ms-payload0KB');
  });

  it('repeated titles are kept for STeLLAR folders and made unique for the report', async () => {
    const c = convertStellar(await json('experiments/aws-hellopy-warm-cold-cdfs.json'), 'f', { endpoints: true, experimentDir: FIX });
    expect(c.subs.map((s) => s.title).slice(0, 4)).toEqual(['warm', 'cold', 'warm', 'cold']);
    expect(c.experiment.subExperiments.map((s) => s.title).slice(0, 4)).toEqual(['warm', 'cold', 'warm (2)', 'cold (2)']);
    expect(new Set(c.subs.map(stellarSubDirName)).size).toBe(c.subs.length);
  });

  it('service times are Go durations; bad input names its field', () => {
    const base = { Title: 't', Bursts: 2, BurstSizes: [1] };
    const conv = (sub: Record<string, unknown>) => () => convertStellar({ SubExperiments: [{ ...base, ...sub }] }, 'x.json', { endpoints: true, experimentDir: FIX });
    expect(conv({ DesiredServiceTimes: ['1s', '250ms', '1m'] })().experiment.subExperiments[0]!.serviceTimes).toEqual([1000, 250, 60_000]);
    expect(conv({ DesiredServiceTimes: ['1 second'] })).toThrow(/SubExperiments\[0\]\.DesiredServiceTimes\[0\]: "1 second" is not a duration/);
    expect(conv({ DesiredServiceTimes: ['0ms'], BurstSizes: [] })).toThrow(/BurstSizes: must hold at least one/);
    expect(conv({ DesiredServiceTimes: [] })).toThrow(/DesiredServiceTimes: must hold at least one/);
    expect(conv({ DesiredServiceTimes: ['0ms'], Burst: 3 })).toThrow(/unknown STeLLAR field\(s\) "Burst"/);
  });

  it("IATs by STeLLAR's formulas: IAT + E·ln(IAT) truncated to ms, whole seconds, no sleep at 0", () => {
    expect(stellarStochasticMs(25, 0.5)).toBe(Math.trunc((25 + 0.5 * Math.log(25)) * 1000));
    expect(stellarStochasticMs(1, 3)).toBe(1000);
    expect(stellarStochasticMs(0, 3)).toBe(0);
    expect(stellarStochasticMs(0.5, 2)).toBe(0); // negative → Go's Sleep does nothing
    expect(stellarRoundDelays('stellar-deterministic', 2.7, 3, seededRng(1))).toEqual([2000, 2000, 2000]);
    expect(stellarRoundDelays('stellar-step', 3, 3, seededRng(1))).toEqual([3000, 3000, 3000]);
    const d = stellarRoundDelays('stellar-stochastic', 10, 2000, seededRng(7));
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    expect(Math.min(...d)).toBeGreaterThanOrEqual(10_000);
    expect(Math.abs(mean - (10 + Math.log(10)) * 1000)).toBeLessThan(150); // mean IAT + ln(IAT)
  });

  it('rounds: sleep first, one burst per replica, sizes and service times per round', () => {
    const s = { bursts: 5, burstSizes: [1, 3], iatSeconds: 2, iatType: 'stellar-deterministic' as const, replicas: 2, seed: 1 };
    expect(stellarBurstSchedule(s).map((b) => [b.atMs, b.replica, b.size])).toEqual([
      [2000, 0, 1],
      [2000, 1, 1],
      [4000, 0, 3],
      [4000, 1, 3],
      [6000, 0, 1],
    ]);
    const plan = planRequests({ ...s, iatShiftSeconds: undefined, serviceTimes: [0, 1000] });
    expect(plan.map((p) => p.serviceTimeMs)).toEqual([0, 0, 1000, 1000, 1000, 1000, 1000, 1000, 1000]);
  });

  it("endpoints: STeLLAR's matching (image size ignored for Image), swap-with-last consumption, chains", async () => {
    const eps = (await json('endpoints/vHive.json')) as { GatewayID: string; FunctionMemoryMB: number; ImageSizeMB: number; PackageType: string }[];
    const c = convertStellar(await json('experiments/vhive-data-transfer.json'), 'f', { endpoints: true, experimentDir: FIX });
    const [a] = assignStellarEndpoints(eps, c.subs, c.provider);
    expect(a!.urls).toEqual([`http://${eps[0]!.GatewayID}/`]);
    // the first is taken, the last moves into its place and is found next
    expect(a!.chains).toEqual([[eps[eps.length - 1]!.GatewayID]]);
    const zipWant = { ...c.subs[0]!, packageType: 'Zip', replicas: 1, chainLength: 1 };
    expect(() => assignStellarEndpoints(eps, [zipWant], 'vhive')).toThrow(/no unused endpoint with PackageType "Zip", FunctionMemoryMB 128 and ImageSizeMB within 5/);
    expect(stellarGatewayUrl('aws', 'abc')).toBe('https://abc.execute-api.us-west-1.amazonaws.com/');
    expect(stellarGatewayUrl('google', 'us-west2-x.cloudfunctions.net/hellopy-1')).toBe('https://us-west2-x.cloudfunctions.net/hellopy-1');
    expect(stellarGatewayUrl('vhive', 'http://127.0.0.1:9/x')).toBe('http://127.0.0.1:9/x');
  });

  it("statistics.csv as STeLLAR computes it (sample SD, gonum's empirical quantile, %.2f)", () => {
    expect(empiricalQuantile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(empiricalQuantile([1, 2, 3, 4], 0.95)).toBe(4);
    expect(empiricalQuantile([1, 2, 3, 4, 5], 0.25)).toBe(2);
    expect(statisticsCsv([1, 2, 3, 4])).toBe('Count,Mean,Standard Deviation,Min,25%ile,50%ile,75%ile,95%ile,Max\n4,2.50,1.29,1.00,1.00,2.00,3.00,4.00,4.00\n');
  });

  it('report: the combined CDF uses a log axis; many lag warnings become one line', () => {
    const spec = cdfSpec([{ title: 'warm', latenciesMs: [0, 1, 2] }, { title: 'cold', latenciesMs: [900, 1200] }], 'all', { logX: true }) as { encoding: { x: { scale: unknown } }; data: { values: { latencyMs: number }[] } };
    expect(spec.encoding.x.scale).toEqual({ type: 'log' });
    expect(Math.min(...spec.data.values.map((v) => v.latencyMs))).toBeGreaterThan(0);
    const one = collapseLagViolations(Array.from({ length: 9 }, (_, i) => `[${i}] s${i}: burst-start lag p99 2.000 ms > 1 ms (max 3.000 ms)`));
    expect(one.split('\n')).toHaveLength(1);
    expect(one.match(/Lower the rate/g)).toHaveLength(1);
    expect(one).toContain('in 9 sub-experiments');
  });
});

describe('hivelab bench FILE.json with a STeLLAR file', () => {
  let server: DelayServer;
  let out: string;
  beforeAll(async () => {
    server = await startDelayServer();
    out = await mkdtemp(join(tmpdir(), 'hivelab-stellar-'));
  });
  afterAll(async () => {
    await server?.close();
    if (out) await rm(out, { recursive: true, force: true });
  });

  it("runs STeLLAR's test.json unchanged against a STeLLAR endpoints file, in STeLLAR's request format, writing STeLLAR's result files", async () => {
    const endpoints = join(out, 'endpoints.json');
    // STeLLAR's format; the GatewayIDs are URLs of a local server (the fixture's are STeLLAR's cloud hosts).
    const ep = (path: string) => ({ GatewayID: `${server.url}${path}`, FunctionMemoryMB: 128, ImageSizeMB: 0, PackageType: 'Zip' });
    await writeFile(endpoints, JSON.stringify([ep('/delay/1'), ep('/delay/2')]));
    const results = join(out, 'results');
    const { stdout, stderr } = await run(process.execPath, [BIN, 'bench', join(FIX, 'experiments/test.json'), '--endpoints', endpoints, '--out', results, '--json', '--no-plots'], { timeout: 120_000 }).catch((e: { stdout: string; stderr: string; code: number }) => {
      // exit 3 (send lag) still writes everything; this test is about formats, not the machine's precision
      if (e.code === 3) return e;
      throw e;
    });
    const summary = JSON.parse(stdout) as { subExperiments: { title: string; count: number; errors: number }[] };
    // 6 bursts cycling sizes 1,2,3,4,50 → 1+2+3+4+50+1; then 10 bursts of 1
    expect(summary.subExperiments).toEqual([expect.objectContaining({ title: 'Google-SubExperiment1', count: 61, errors: 0 }), expect.objectContaining({ title: 'Google-SubExperiment2', count: 10, errors: 0 })]);
    const gets = server.received;
    expect(gets.length).toBe(71);
    expect(gets.every((g) => g.query === '?IncrementLimit=0&PayloadLengthBytes=0&DataTransferChainIDs=[]' && g.bodyBytes === 0)).toBe(true);
    const [runDir] = await readdir(join(results, 'stellar'));
    const dirs = (await readdir(join(results, 'stellar', runDir!))).sort();
    expect(dirs).toEqual(['Google-SubExperiment1-memory128MB-img0MB-IAT0s-burst1-st0ms-payload0KB', 'Google-SubExperiment2-memory128MB-img0MB-IAT0s-burst1-st0ms-payload0KB']);
    const lat = (await readFile(join(results, 'stellar', runDir!, dirs[0]!, 'latencies.csv'), 'utf8')).trim().split('\n');
    expect(lat[0]).toBe('Request ID,Host,Sent At,Received At,Client Latency (ms),Burst ID');
    expect(lat).toHaveLength(62);
    expect(lat[1]).toMatch(/^,127\.0\.0\.1:\d+,\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ,\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ,\d+,\d+$/);
    const stats = (await readFile(join(results, 'stellar', runDir!, dirs[1]!, 'statistics.csv'), 'utf8')).split('\n');
    expect(stats[1]!.split(',')[0]).toBe('10');
    expect(await readFile(join(results, 'report.html'), 'utf8')).toContain('log scale');
    void stderr;
  });

  it('a bad endpoints file and a bad STeLLAR file are usage errors (exit 2)', async () => {
    const bad = join(out, 'bad-endpoints.json');
    await writeFile(bad, JSON.stringify([{ GatewayID: 5 }]));
    const e1 = await run(process.execPath, [BIN, 'bench', join(FIX, 'experiments/test.json'), '--endpoints', bad], { timeout: 60_000 }).catch((e: { code: number; stderr: string }) => e);
    expect(e1).toMatchObject({ code: 2 });
    expect((e1 as { stderr: string }).stderr).toMatch(/--endpoints .*GatewayID.*STeLLAR/);
    const badExp = join(out, 'bad.json');
    await writeFile(badExp, JSON.stringify({ SubExperiments: [{ Title: 'x', Bursts: 1, BurstSizes: [1], DesiredServiceTimes: ['fast'] }] }));
    const e2 = await run(process.execPath, [BIN, 'bench', badExp], { timeout: 60_000 }).catch((e: { code: number; stderr: string }) => e);
    expect(e2).toMatchObject({ code: 2 });
    expect((e2 as { stderr: string }).stderr).toMatch(/DesiredServiceTimes\[0\]: "fast"/);
  });
});

describe("STeLLAR's aws hellopy experiment on Hivelab, with STeLLAR's own function", () => {
  let t: TestPlatform | undefined;
  let out = '';
  afterAll(async () => {
    await t?.stop();
    if (t) await removeState(t.stateDir);
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('deploys hellopy (a Lambda folder, no function.json) from Handler/Runtime, sends STeLLAR GETs, records its RequestIDs', async () => {
    t = await startTestPlatform();
    out = await mkdtemp(join(tmpdir(), 'hivelab-stellar-hivelab-'));
    // The experiment file unchanged; its Function folder "hellopy" beside it holds STeLLAR's main.py.
    await cp(join(FIX, 'experiments/aws-hellopy.json'), join(out, 'aws-hellopy.json'));
    await cp(resolve(FIX, '../lambda/stellar-hellopy-serverless'), join(out, 'hellopy'), { recursive: true });
    const results = join(out, 'results');
    const r = await run(process.execPath, [BIN, 'bench', join(out, 'aws-hellopy.json'), '--state', t.stateDir, '--out', results, '--json', '--no-plots'], { timeout: 300_000 }).catch(
      (e: { code: number; stdout: string; stderr: string }) => {
        if (e.code === 3) return e;
        throw e;
      },
    );
    const summary = JSON.parse(r.stdout) as { subExperiments: { title: string; count: number; errors: number }[] };
    // parallelism1: 2 bursts of 2; parallelism2: 3 bursts of 4 over 2 replicas
    expect(summary.subExperiments).toEqual([expect.objectContaining({ title: 'parallelism1', count: 4, errors: 0 }), expect.objectContaining({ title: 'parallelism2', count: 12, errors: 0 })]);
    const [runDir] = await readdir(join(results, 'stellar'));
    const lat = (await readFile(join(results, 'stellar', runDir!, 'parallelism2-memory128MB-img48MB-IAT0s-burst4-st0ms-payload0KB', 'latencies.csv'), 'utf8')).trim().split('\n').slice(1);
    expect(lat).toHaveLength(12);
    // hellopy answers {RequestID: context.aws_request_id, …}: the platform's invocation ids
    expect(lat.every((l) => /^[0-9a-f]{16},/.test(l))).toBe(true);
  });
});
