import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { knativeServiceFor } from '../../src/export/knative.js';
import { checkStructural, checkObjectMeta, type StructuralSchema } from '../../src/export/structural-schema.js';
import { parseManifest } from '../../src/manifest/validate.js';
import { startTestPlatform, removeState, FIXTURES, type TestPlatform } from '../platform/harness.js';
import { grpcFunctionDir } from '../grpc/helpers.js';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../../bin/hivelab.js');
/** Knative Serving's own Service schema (see test/fixtures/knative/README.md). */
const SCHEMA = JSON.parse(readFileSync(resolve(import.meta.dirname, '../fixtures/knative/service-v1.openapi.json'), 'utf8')) as StructuralSchema;
const validate = (svc: unknown) => [...checkStructural(svc, SCHEMA), ...checkObjectMeta((svc as { metadata: unknown }).metadata)];

describe('hivelab export knative', () => {
  const opts = { registry: 'registry.example.com/lab/', namespace: 'lab' };

  it("maps a gRPC function's settings onto Knative's fields, valid against Knative's schema", () => {
    const m = parseManifest({
      name: 'fibonacci-python',
      runtime: 'python',
      protocol: 'grpc',
      command: ['/usr/bin/python3', 'server.py'],
      port: 50051,
      memoryMB: 512,
      timeoutMs: 2500,
      concurrency: 4,
      env: { MODE: 'fast' },
      scaling: { minScale: 1, maxScale: 10, initialScale: 2, targetUtilization: 0.7, stableWindowS: 30, panicWindowPct: 20, panicThreshold: 2.5, scaleToZeroGraceS: 45 },
    });
    const { service, warnings } = knativeServiceFor(m, 'abc123', opts);
    expect(validate(service)).toEqual([]);
    expect(warnings).toEqual([]);
    const spec = (service as any).spec.template.spec;
    expect(spec.containerConcurrency).toBe(4);
    expect(spec.timeoutSeconds).toBe(3);
    expect(spec.containers[0]).toEqual({
      image: 'registry.example.com/lab/fibonacci-python:abc123',
      ports: [{ name: 'h2c', containerPort: 50051 }],
      resources: { requests: { memory: '512Mi' }, limits: { memory: '512Mi' } },
      env: [{ name: 'MODE', value: 'fast' }],
    });
    expect((service as any).spec.template.metadata.annotations).toEqual({
      'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev',
      'autoscaling.knative.dev/metric': 'concurrency',
      'autoscaling.knative.dev/target': '4',
      'autoscaling.knative.dev/min-scale': '1',
      'autoscaling.knative.dev/max-scale': '10',
      'autoscaling.knative.dev/initial-scale': '2',
      'autoscaling.knative.dev/target-utilization-percentage': '70',
      'autoscaling.knative.dev/window': '30s',
      'autoscaling.knative.dev/panic-window-percentage': '20',
      'autoscaling.knative.dev/panic-threshold-percentage': '250',
      'autoscaling.knative.dev/scale-to-zero-pod-retention-period': '45s',
    });
    expect((service as any).metadata).toMatchObject({ name: 'fibonacci-python', namespace: 'lab' });
  });

  it('says what Knative cannot express', () => {
    const m = parseManifest({ name: 'h', runtime: 'node', handler: 'index.handler', coldStart: 'reap', scaling: { policy: 'fixed-keepalive', keepAliveS: 600 } });
    const { service, warnings } = knativeServiceFor(m, 'v1', opts);
    expect(validate(service)).toEqual([]);
    expect(warnings.join('\n')).toMatch(/policy "fixed-keepalive" has no Knative equivalent[\s\S]*keepAliveS[\s\S]*"reap"/);
    expect((service as any).spec.template.spec.containers[0].ports).toEqual([{ name: 'http1', containerPort: 8080 }]);
  });

  it('the schema check catches what the API server would refuse', () => {
    const m = parseManifest({ name: 'h', runtime: 'node', handler: 'index.handler' });
    const good = knativeServiceFor(m, 'v1', opts).service as any;
    const bad = structuredClone(good);
    bad.spec.template.spec.containerConcurrency = '8';
    bad.spec.template.spec.concurency = 8;
    bad.spec.template.spec.containers[0].ports[0].containerPort = 2 ** 32;
    bad.metadata.name = 'Not_A_Name';
    const errors = validate(bad);
    expect(errors).toContain('spec.template.spec.containerConcurrency: must be an integer');
    expect(errors).toContain('spec.template.spec.concurency: unknown field');
    expect(errors).toContain('spec.template.spec.containers[0].ports[0].containerPort: out of int32 range');
    expect(errors.some((e) => e.startsWith('metadata.name'))).toBe(true);
  });

  describe('from a running platform', () => {
    let t: TestPlatform;
    beforeAll(async () => {
      t = await startTestPlatform();
      expect((await t.deploy(join(FIXTURES, 'echo-node'))).status).toBe(201);
      expect((await t.deploy(await grpcFunctionDir('grpc-hello-python', ['helloworld']))).status).toBe(201);
    }, 60_000);
    afterAll(async () => {
      await t?.stop();
      await removeState(t.stateDir);
    });

    it('writes one valid Service per deployed function; bad options are usage errors', async () => {
      const { stdout } = await run(process.execPath, [BIN, 'export', 'knative', '--state', t.stateDir, '--registry', 'reg.example/lab'], { timeout: 30_000 });
      const docs = parseAllDocuments(stdout).map((d) => d.toJS() as any);
      expect(docs.map((d) => d.metadata.name).sort()).toEqual(['echo-node', 'grpc-hello-python']);
      for (const d of docs) expect(validate(d)).toEqual([]);
      const grpcSvc = docs.find((d) => d.metadata.name === 'grpc-hello-python');
      expect(grpcSvc.spec.template.spec.containers[0].ports[0]).toEqual({ name: 'h2c', containerPort: 8080 });
      expect(grpcSvc.spec.template.spec.containers[0].image).toMatch(/^reg\.example\/lab\/grpc-hello-python:\S+$/);
      const usage = await run(process.execPath, [BIN, 'export', 'knative', '--state', t.stateDir, '--namespace', 'Bad_NS'], { timeout: 30_000 }).catch((e) => e);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toMatch(/--namespace "Bad_NS" is not a Kubernetes namespace name/);
      const target = await run(process.execPath, [BIN, 'export', 'openwhisk', '--state', t.stateDir], { timeout: 30_000 }).catch((e) => e);
      expect(target.code).toBe(2);
    }, 60_000);
  });
});
