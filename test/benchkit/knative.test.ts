import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseExperiment } from '../../src/benchkit/experiment.js';
import { knativeManifests, KnativeProvider, readyServiceUrls } from '../../src/benchkit/providers/knative.js';

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
    const out = await mkdtemp(join(tmpdir(), 'bk-kn-'));
    const logs: string[] = [];
    // A kubectl that cannot reach any cluster: a path that does not exist stands in for it.
    const p = new KnativeProvider({ experimentDir: out, outDir: out, runId: 'r1', log: (l) => logs.push(l) }, { kubectl: join(out, 'no-kubectl') });
    await expect(p.deploy(sub, 0)).rejects.toThrow(/knative provider: `.*no-kubectl apply -f .*00\.yaml` failed/);
    const docs = parseAllDocuments(await readFile(join(out, 'knative', '00.yaml'), 'utf8')).map((d) => d.toJS());
    expect(docs).toHaveLength(4);
    expect(docs.map((d) => d.metadata.name)).toContain('bench-spin-r1-0-r1-h1');
    await p.teardown();
  });
});
