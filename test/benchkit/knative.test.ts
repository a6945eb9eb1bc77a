import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadExperiment, parseExperiment } from '../../src/benchkit/experiment.js';
import { grpcRequestBody } from '../../src/benchkit/grpc-request.js';
import { resolveFunctionDir } from '../../src/benchkit/providers/function-source.js';
import { buildBenchImage, knativeManifests, KnativeProvider, readyServiceUrls } from '../../src/benchkit/providers/knative.js';
import { DEFAULT_BASE_CACHE } from '../../src/image-build/build.js';
import { scratchDir } from '../helpers/scratch.js';

const run = promisify(execFile);

const exp = parseExperiment({
  provider: 'knative',
  subExperiments: [{ title: 'chain', bursts: 2, iatSeconds: 1, replicas: 2, chainLength: 2, transfer: 'storage', memoryMB: 512, concurrency: 4, imageSizeMB: 10, image: 'registry.local/bench-spin:1', timeoutMs: 30_000 }],
});
const sub = exp.subExperiments[0]!;

describe('knative provider manifests', () => {
  it('one Service per replica × hop with the requested settings', () => {
    const { names, services } = knativeManifests(sub, 3, 'abc123', 'bench');
    expect(names).toEqual([
      ['bench-spin-abc123-3-r0-h0', 'bench-spin-abc123-3-r0-h1'],
      ['bench-spin-abc123-3-r1-h0', 'bench-spin-abc123-3-r1-h1'],
    ]);
    expect(services).toHaveLength(4);
    const s = services[0] as any;
    expect(s.apiVersion).toBe('serving.knative.dev/v1');
    expect(s.kind).toBe('Service');
    expect(s.metadata).toMatchObject({ name: 'bench-spin-abc123-3-r0-h0', namespace: 'bench', labels: { 'hivelab.dev/run': 'abc123' } });
    const t = s.spec.template;
    expect(t.metadata.annotations).toMatchObject({
      'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev',
      'autoscaling.knative.dev/target': '4',
      'autoscaling.knative.dev/min-scale': '0',
    });
    expect(t.spec.containerConcurrency).toBe(4);
    expect(t.spec.timeoutSeconds).toBe(30);
    const c = t.spec.containers[0];
    expect(c.image).toBe('registry.local/bench-spin:1');
    expect(c.resources).toEqual({ requests: { memory: '512Mi' }, limits: { memory: '512Mi' } });
    expect(c.env).toContainEqual({ name: 'IMAGE_PADDING_MB', value: '10' });
    // Annotation values must be strings for the Kubernetes API.
    for (const v of Object.values(t.metadata.annotations)) expect(typeof v).toBe('string');
  });

  it('reads URLs of Ready services from `kubectl get ksvc -o json`', () => {
    const json = JSON.stringify({
      items: [
        { metadata: { name: 'a' }, status: { url: 'http://a.default.example.com', conditions: [{ type: 'Ready', status: 'True' }] } },
        { metadata: { name: 'b' }, status: { url: 'http://b.default.example.com', conditions: [{ type: 'Ready', status: 'Unknown' }] } },
        { metadata: { name: 'c' }, status: {} },
      ],
    });
    expect([...readyServiceUrls(json)]).toEqual([['a', 'http://a.default.example.com']]);
  });

  it('writes the manifests as a multi-document YAML and fails clearly without a cluster', async () => {
    const out = await scratchDir('bk-kn-');
    const logs: string[] = [];
    // A kubectl that cannot reach any cluster: a path that does not exist stands in for it.
    const p = new KnativeProvider({ experimentDir: out, outDir: out, runId: 'r1', log: (l) => logs.push(l) }, { kubectl: join(out, 'no-kubectl') });
    await expect(p.deploy(sub, 0)).rejects.toThrow(/knative provider: `.*no-kubectl apply -f .*00\.yaml` failed/);
    const docs = parseAllDocuments(await readFile(join(out, 'knative', '00.yaml'), 'utf8')).map((d) => d.toJS());
    expect(docs).toHaveLength(4);
    expect(docs.map((d) => d.metadata.name)).toContain('bench-spin-r1-0-r1-h1');
    await p.teardown();
  });

  it('without `image`, the Services run the image `hivelab build` made of the function, named by its manifest digest', async () => {
    const out = await scratchDir('bk-kn-img-');
    const noImage = parseExperiment({ provider: 'knative', subExperiments: [{ title: 'built', bursts: 1, iatSeconds: 1, replicas: 1, chainLength: 1, memoryMB: 256 }] }).subExperiments[0]!;
    expect(noImage.image).toBeUndefined();
    expect(() => knativeManifests(noImage, 0, 'r2')).toThrow(/no image/);
    const ctx = { experimentDir: out, outDir: out, runId: 'r2', log: () => undefined };
    const built = await buildBenchImage(noImage, ctx, 'registry.example.com/lab/', DEFAULT_BASE_CACHE);
    // The digest the Service names is the manifest inside the archive that would be pushed.
    const layout = join(out, 'layout');
    await mkdir(layout);
    await run('tar', ['-xf', built.archive, '-C', layout]);
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(index.manifests[0]!.digest).toBe(built.manifestDigest);
    expect(built.ref).toBe(`registry.example.com/lab/bench-spin@${built.manifestDigest}`);
    expect(built.pushRef).toMatch(/^registry\.example\.com\/lab\/bench-spin:[0-9a-f]{16}$/);
    const { services } = knativeManifests(noImage, 0, 'r2', 'default', built);
    expect((services[0] as any).spec.template.spec.containers[0].image).toBe(built.ref);
    expect((services[0] as any).spec.template.spec.containers[0].ports).toEqual([{ containerPort: 8080 }]);
    // An explicit `image` still wins.
    expect((knativeManifests(sub, 0, 'r2', 'default', built).services[0] as any).spec.template.spec.containers[0].image).toBe('registry.local/bench-spin:1');
  }, 900_000);

  it('the example gRPC experiment file targets vSwarm functions; on Knative the built image serves h2c on its own port', async () => {
    const file = join(import.meta.dirname, '../../experiments/vswarm-grpc.yaml');
    const grpcExp = await loadExperiment(file);
    expect(grpcExp.subExperiments.map((s) => s.grpc?.method)).toEqual(['fibonacci.Greeter/SayHello', 'fibonacci.Greeter/SayHello']);
    for (const s of grpcExp.subExperiments) {
      // The proto resolves against the file and encodes the request (what the kit sends per call).
      expect(grpcRequestBody(s.grpc!.proto, s.grpc!.method, s.grpc!.request).length).toBeGreaterThan(5);
      expect(resolveFunctionDir(s.function, join(import.meta.dirname, '../../experiments'))).toMatch(/examples\/vswarm\//);
    }
    const node = grpcExp.subExperiments[1]!;
    const out = await scratchDir('bk-kn-grpc-');
    const built = await buildBenchImage(node, { experimentDir: join(import.meta.dirname, '../../experiments'), outDir: out, runId: 'r3', log: () => undefined }, 'registry.example.com/lab', DEFAULT_BASE_CACHE);
    expect(built).toMatchObject({ port: 50051, grpc: true });
    const c = (knativeManifests(node, 1, 'r3', 'default', built).services[0] as any).spec.template.spec.containers[0];
    expect(c.image).toBe(`registry.example.com/lab/fibonacci-nodejs@${built.manifestDigest}`);
    expect(c.ports).toEqual([{ name: 'h2c', containerPort: 50051 }]);
  }, 900_000);
});
