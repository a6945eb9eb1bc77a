import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { SubExperiment } from '../experiment.js';
import { benchFunctionName } from './function-source.js';
import type { Deployment, Provider, ProviderContext } from './provider.js';

const run = promisify(execFile);

/**
 * The `knative` provider: one Knative Service per replica × chain hop, written as YAML under
 * `<out>/knative/`, applied with kubectl when it is on PATH, and the services' URLs read back from
 * `kubectl get ksvc -o json`. Knative cannot take a function folder, so the container image comes
 * from the sub-experiment's `image` (its image-size padding must be baked in; IMAGE_PADDING_MB is
 * passed so the image can report or create it). The settings map as:
 *   memoryMB     → resources.requests/limits.memory (Mi)
 *   concurrency  → containerConcurrency, and the KPA's target (autoscaling.knative.dev/target)
 *   replicas     → distinct services, so cold-start runs need not wait for scale-to-zero
 *   chain        → the next hop's URL in the request body (an image has no Hivelab SDK)
 */
export const DEFAULT_KNATIVE_IMAGE = 'ghcr.io/hivelab/bench-spin:latest';

export interface KnativeServiceOptions {
  name: string;
  namespace: string;
  image: string;
  memoryMB: number;
  concurrency: number;
  imageSizeMB: number;
  timeoutSeconds: number;
  labels?: Record<string, string>;
}

/** The Knative Service object (serving.knative.dev/v1) for one benchmark function. */
export function knativeService(o: KnativeServiceOptions): Record<string, unknown> {
  return {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name: o.name, namespace: o.namespace, labels: { 'app.kubernetes.io/part-of': 'hivelab-bench', ...o.labels } },
    spec: {
      template: {
        metadata: {
          annotations: {
            'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev',
            'autoscaling.knative.dev/metric': 'concurrency',
            'autoscaling.knative.dev/target': String(o.concurrency),
            // Scale to zero allowed: cold-start sub-experiments depend on it.
            'autoscaling.knative.dev/min-scale': '0',
          },
        },
        spec: {
          containerConcurrency: o.concurrency,
          timeoutSeconds: o.timeoutSeconds,
          containers: [
            {
              image: o.image,
              ports: [{ containerPort: 8080 }],
              env: [{ name: 'IMAGE_PADDING_MB', value: String(o.imageSizeMB) }],
              resources: { requests: { memory: `${o.memoryMB}Mi` }, limits: { memory: `${o.memoryMB}Mi` } },
            },
          ],
        },
      },
    },
  };
}

/** Manifests for a sub-experiment: names[r][h] is replica r, chain hop h. */
export function knativeManifests(sub: SubExperiment, index: number, runId: string, namespace = 'default'): { names: string[][]; services: Record<string, unknown>[] } {
  const names: string[][] = [];
  const services: Record<string, unknown>[] = [];
  for (let r = 0; r < sub.replicas; r++) {
    const row: string[] = [];
    for (let h = 0; h < sub.chainLength; h++) {
      const name = benchFunctionName(runId, index, sub.function, r, h);
      row.push(name);
      services.push(
        knativeService({
          name,
          namespace,
          image: sub.image ?? DEFAULT_KNATIVE_IMAGE,
          memoryMB: sub.memoryMB,
          concurrency: sub.concurrency,
          imageSizeMB: sub.imageSizeMB,
          timeoutSeconds: Math.ceil(sub.timeoutMs / 1000),
          labels: { 'hivelab.dev/run': runId },
        }),
      );
    }
    names.push(row);
  }
  return { names, services };
}

/** name → status.url for the services that are Ready, from `kubectl get ksvc -o json` output. */
export function readyServiceUrls(kubectlJson: string): Map<string, string> {
  const out = new Map<string, string>();
  const list = JSON.parse(kubectlJson) as { items?: { metadata?: { name?: string }; status?: { url?: string; conditions?: { type: string; status: string }[] } }[] };
  for (const it of list.items ?? []) {
    const ready = it.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (it.metadata?.name && it.status?.url && ready) out.set(it.metadata.name, it.status.url);
  }
  return out;
}

export class KnativeProvider implements Provider {
  readonly name = 'knative' as const;
  private readonly files: string[] = [];

  constructor(
    private readonly ctx: ProviderContext,
    private readonly opts: { namespace?: string; kubectl?: string; readyTimeoutMs?: number } = {},
  ) {}

  async deploy(sub: SubExperiment, index: number): Promise<Deployment> {
    const ns = this.opts.namespace ?? 'default';
    const { names, services } = knativeManifests(sub, index, this.ctx.runId, ns);
    const dir = join(this.ctx.outDir, 'knative');
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${String(index).padStart(2, '0')}.yaml`);
    await writeFile(file, services.map((s) => stringify(s)).join('---\n'));
    this.ctx.log(`wrote ${services.length} Knative Service manifest(s) to ${file}`);
    const kubectl = this.opts.kubectl ?? 'kubectl';
    try {
      await run(kubectl, ['apply', '-f', file]);
    } catch (e) {
      throw new Error(`knative provider: \`${kubectl} apply -f ${file}\` failed (is kubectl installed and a cluster with Knative Serving reachable?): ${(e as Error).message.split('\n').slice(0, 3).join(' ')}`);
    }
    this.files.push(file);
    const wanted = names.flat();
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 300_000);
    let urls = new Map<string, string>();
    while (Date.now() < deadline) {
      const { stdout } = await run(kubectl, ['get', 'ksvc', '-n', ns, '-l', `hivelab.dev/run=${this.ctx.runId}`, '-o', 'json'], { maxBuffer: 64 << 20 });
      urls = readyServiceUrls(stdout);
      if (wanted.every((n) => urls.has(n))) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    const missing = wanted.filter((n) => !urls.has(n));
    if (missing.length) throw new Error(`knative provider: services not Ready in time: ${missing.join(', ')}`);
    return {
      urls: names.map((row) => urls.get(row[0]!)!),
      headers: {},
      chain: (replica) => names[replica % names.length]!.slice(1).map((n) => urls.get(n)!),
    };
  }

  async teardown(): Promise<void> {
    const kubectl = this.opts.kubectl ?? 'kubectl';
    for (const f of this.files.splice(0)) {
      await run(kubectl, ['delete', '--ignore-not-found', '-f', f]).catch((e: Error) => this.ctx.log(`kubectl delete -f ${f}: ${e.message}`));
    }
  }
}
