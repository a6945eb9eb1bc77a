import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadExperiment } from '../../src/benchkit/experiment.js';
import { HivelabProvider, readPlatformAccess } from '../../src/benchkit/providers/hivelab.js';
import { runExperiment } from '../../src/benchkit/runner.js';
import { grpcRequestBody, grpcTarget } from '../../src/benchkit/grpc-request.js';
import { startTestPlatform, removeState, type TestPlatform } from '../platform/harness.js';
import { PROTOS } from './helpers.js';
import { scratchDir } from '../helpers/scratch.js';

const GRPC_ECHO = resolve(import.meta.dirname, '../../bench/functions/grpc-echo');

describe('the benchmark kit drives gRPC functions', () => {
  let t: TestPlatform;
  beforeAll(async () => {
    t = await startTestPlatform();
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    await removeState(t.stateDir);
  });

  it('encodes the request once as a gRPC frame and targets Hivelab by header, Knative by host', () => {
    const frame = grpcRequestBody(join(PROTOS, 'helloworld/helloworld.proto'), 'helloworld.Greeter/SayHello', { name: 'ab' });
    // flag 0, length 4, then field 1 (name) = "ab"
    expect([...frame]).toEqual([0, 0, 0, 0, 4, 0x0a, 2, 0x61, 0x62]);
    expect(() => grpcRequestBody(join(PROTOS, 'helloworld/helloworld.proto'), 'helloworld.Greeter/Nope', {})).toThrow(/has no method/);
    expect(grpcTarget('http://127.0.0.1:8080/invoke/fib', 'fibonacci.Greeter/SayHello')).toEqual({
      url: 'grpc://127.0.0.1:8080/fibonacci.Greeter/SayHello',
      headers: { 'x-hivelab-function': 'fib' },
    });
    expect(grpcTarget('http://fib.default.example.com', 'fibonacci.Greeter/SayHello')).toEqual({ url: 'grpc://fib.default.example.com/fibonacci.Greeter/SayHello', headers: {} });
  });

  it('an experiment file with `grpc` runs open-loop unary calls through the real platform (warmed up over gRPC first)', async () => {
    const dir = await scratchDir('bk-grpc-');
    await writeFile(
      join(dir, 'exp.json'),
      JSON.stringify({
        provider: 'hivelab',
        maxSendLagP99Ms: 1000,
        subExperiments: [
          {
            title: 'grpc warm',
            function: GRPC_ECHO,
            bursts: 4,
            burstSizes: [2],
            iatSeconds: 0.2,
            concurrency: 8,
            warmup: 1,
            grpc: { proto: join(GRPC_ECHO, 'helloworld.proto'), method: 'helloworld.Greeter/SayHello', request: { name: 'kit' } },
          },
        ],
      }),
    );
    const exp = await loadExperiment(join(dir, 'exp.json'));
    const provider = new HivelabProvider(await readPlatformAccess(t.stateDir), { experimentDir: dir, outDir: dir, runId: 'g1', log: () => {} });
    try {
      const res = await runExperiment(exp, { outDir: dir, provider, plots: false, log: () => {} });
      const sub = res.subs[0]!;
      expect(sub.summary.errors).toBe(0);
      expect(sub.summary.count).toBe(8);
      // The warm-up call paid the cold start; the measured calls found the instance warm (x-hivelab-cold).
      expect(sub.summary.coldCount).toBe(0);
      const csv = (await readFile(join(sub.dir, 'latencies.csv'), 'utf8')).trim().split('\n');
      expect(csv).toHaveLength(9);
      const col = csv[0]!.split(',').indexOf('cold');
      expect(col).toBeGreaterThan(0);
      expect(csv.slice(1).map((l) => l.split(',')[col])).toEqual(Array(8).fill('0'));
    } finally {
      await provider.teardown();
    }
  }, 90_000);

  it('a call the platform refuses is a failed request with the gRPC status in its error', async () => {
    const dir = await scratchDir('bk-grpc-');
    const exp = await loadExperiment(
      await (async () => {
        const f = join(dir, 'exp.json');
        await writeFile(
          f,
          JSON.stringify({
            provider: 'endpoints',
            maxSendLagP99Ms: 1000,
            subExperiments: [{ title: 'nobody', bursts: 1, iatSeconds: 0, endpoints: [`${t.platform.url}/invoke/nobody`], grpc: { proto: join(GRPC_ECHO, 'helloworld.proto'), method: 'helloworld.Greeter/SayHello' } }],
          }),
        );
        return f;
      })(),
    );
    const { EndpointsProvider } = await import('../../src/benchkit/providers/endpoints.js');
    const res = await runExperiment(exp, { outDir: dir, provider: new EndpointsProvider(), plots: false, log: () => {} });
    const csv = await readFile(join(res.subs[0]!.dir, 'latencies.csv'), 'utf8');
    expect(csv).toMatch(/grpc-status 16/); // no token given: UNAUTHENTICATED
  }, 60_000);
});
