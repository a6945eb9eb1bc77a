import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { knativeServiceFor } from '../../src/export/knative.js';
import { checkStructural, checkObjectMeta, type StructuralSchema } from '../../src/export/structural-schema.js';
import { parseManifest } from '../../src/manifest/validate.js';
import { startTestPlatform, removeState, FIXTURES, type TestPlatform } from '../platform/harness.js';
import { grpcFunctionDir } from '../grpc/helpers.js';
import { hivelab } from '../image/cli.js';
import { busyboxLayer, makeTar, ociBlobs, serverConfig, writeDockerArchive, writeOciArchive } from '../image/image-builder.js';
import { pushImage, registryUnavailableReason, startRegistry, type TestRegistry } from '../image/registry.js';

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

  describe('an image function names the image it was deployed from', () => {
    const id = `sha256:${'ab12cd34ef56'.padEnd(64, '7')}`;
    const digest = `sha256:${'9'.repeat(64)}`;
    const imageFn = (image: Record<string, unknown>) =>
      parseManifest({ name: 'img', runtime: 'node', command: ['/bin/sh', '-c', 'serve'], port: 9090, image: { id, ref: 'whatever', ...image } });

    it('from a registry: its repository pinned by the manifest digest; no note', () => {
      const m = imageFn({ ref: 'registry.example.com/lab/hello:v1', digest, origin: { transport: 'registry', repository: 'registry.example.com/lab/hello' } });
      const { service, warnings, notes } = knativeServiceFor(m, 'v7', opts);
      expect(validate(service)).toEqual([]);
      const c = (service as any).spec.template.spec.containers[0];
      expect(c.image).toBe(`registry.example.com/lab/hello@${digest}`);
      expect(c.ports).toEqual([{ name: 'http1', containerPort: 9090 }]);
      expect(warnings).toEqual([]);
      expect(notes).toEqual([]);
      // this machine's own registry is not the cluster's: said, not hidden
      const local = knativeServiceFor(imageFn({ digest, origin: { transport: 'registry', repository: 'localhost:5000/hello' } }), 'v7', opts);
      expect((local.service as any).spec.template.spec.containers[0].image).toBe(`localhost:5000/hello@${digest}`);
      expect(local.warnings.join()).toMatch(/localhost:5000, this machine's registry/);
    });

    it('from a local archive or layout: <registry>/<name>:<12 hex of the image id>, and how to push it there', () => {
      const archive = knativeServiceFor(imageFn({ digest, origin: { transport: 'oci-archive', path: '/tmp/hello.tar', tag: 'v1' } }), 'v7', opts);
      expect(validate(archive.service)).toEqual([]);
      expect((archive.service as any).spec.template.spec.containers[0].image).toBe('registry.example.com/lab/img:ab12cd34ef56');
      expect(archive.notes).toEqual(['img: push its image there first: skopeo copy oci-archive:/tmp/hello.tar:v1 docker://registry.example.com/lab/img:ab12cd34ef56']);
      const docker = knativeServiceFor(imageFn({ origin: { transport: 'docker-archive', path: "/tmp/my images/it's.tar" } }), 'v7', opts);
      expect(docker.notes).toEqual([`img: push its image there first: skopeo copy 'docker-archive:/tmp/my images/it'\\''s.tar' docker://registry.example.com/lab/img:ab12cd34ef56`]);
      const layout = knativeServiceFor(imageFn({ digest, origin: { transport: 'oci', path: '/srv/layout' } }), 'v7', opts);
      expect(layout.notes.join()).toMatch(/skopeo copy oci:\/srv\/layout docker:\/\/registry\.example\.com\/lab\/img:ab12cd34ef56$/);
      // deployed before the origin was recorded: the reference it was deployed from is all there is
      const old = knativeServiceFor(imageFn({ ref: '/srv/hello.tar' }), 'v7', opts);
      expect((old.service as any).spec.template.spec.containers[0].image).toBe('registry.example.com/lab/img:ab12cd34ef56');
      expect(old.notes.join()).toMatch(/deployed from \/srv\/hello\.tar\) to registry\.example\.com\/lab\/img:ab12cd34ef56/);
    });
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

  describe('from a running platform: functions deployed with --image', () => {
    const skip = registryUnavailableReason() ?? (existsSync('/bin/busybox') ? undefined : 'busybox-static is not installed');
    let t: TestPlatform;
    let reg: TestRegistry;
    let work: string;
    let manifestDigest: string;
    let archive: string;
    let archiveId: string;
    let ociArchive: string;
    beforeAll(async () => {
      if (skip) return;
      work = mkdtempSync(join(tmpdir(), 'hivelab-export-images-'));
      const spec = { layers: [busyboxLayer(), makeTar([{ name: 'app/', type: 'dir' as const }, { name: 'app/exported', body: 'yes' }])], config: serverConfig() };
      reg = await startRegistry(join(work, 'registry'), 'researcher', 's3cret-pass');
      manifestDigest = await pushImage(reg, 'lab/hello', 'v1', ociBlobs(spec));
      archive = join(work, 'hello.docker.tar');
      archiveId = writeDockerArchive(archive, spec, 'hello:1');
      ociArchive = join(work, 'hello.oci.tar');
      writeOciArchive(ociArchive, spec, 'v2');
      t = await startTestPlatform();
    }, 120_000);
    afterAll(async () => {
      await t?.stop();
      if (t) await removeState(t.stateDir);
      await reg?.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it.skipIf(skip)('a registry image by its digest, a local archive by <registry>/<name>:<id> with the skopeo copy that puts it there', async () => {
      const auth = { HIVELAB_REGISTRY_AUTH: 'researcher:s3cret-pass' };
      for (const [ref, name] of [[`${reg.host}/lab/hello:v1`, 'from-registry'], [`docker-archive:${archive}`, 'from-archive'], [`oci-archive:${ociArchive}:v2`, 'from-oci-archive']] as const) {
        const d = await hivelab(['deploy', '--image', ref, '--name', name, '--insecure', '--timeout', '60', '--state', t.stateDir], auth);
        expect(d.code, d.stderr).toBe(0);
      }
      const out = await hivelab(['export', 'knative', '--state', t.stateDir, '--registry', 'reg.example/lab']);
      expect(out.code, out.stderr).toBe(0);
      const docs = parseAllDocuments(out.stdout).map((d) => d.toJS() as any);
      for (const d of docs) expect(validate(d), d.metadata.name).toEqual([]);
      const imageOf = (name: string) => docs.find((d) => d.metadata.name === name).spec.template.spec.containers[0].image as string;
      // the registry's own reference, pinned: the cluster pulls the bytes that ran here
      expect(imageOf('from-registry')).toBe(`${reg.host}/lab/hello@${manifestDigest}`);
      expect(out.stderr).toMatch(new RegExp(`warning: from-registry: its image is in ${reg.host.replace(/[.]/g, '\\.')}, this machine's registry`));
      // a local archive: named by its image id under --registry, and how to push it there
      const idTag = archiveId.slice('sha256:'.length, 'sha256:'.length + 12);
      expect(imageOf('from-archive')).toBe(`reg.example/lab/from-archive:${idTag}`);
      expect(out.stderr).toContain(`note: from-archive: push its image there first: skopeo copy docker-archive:${archive} docker://reg.example/lab/from-archive:${idTag}`);
      expect(imageOf('from-oci-archive')).toBe(`reg.example/lab/from-oci-archive:${idTag}`); // the same image: the same id
      expect(out.stderr).toContain(`note: from-oci-archive: push its image there first: skopeo copy oci-archive:${ociArchive}:v2 docker://reg.example/lab/from-oci-archive:${idTag}`);
      expect(out.stderr).not.toMatch(/note: from-registry/);
    }, 240_000);
  });
});
