import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { SubExperiment } from '../experiment.js';
import { benchFunctionName, resolveFunctionDir } from './function-source.js';
import { buildImage } from '../../image-build/build.js';
import type { Deployment, Provider, ProviderContext } from './provider.js';

const run = promisify(execFile);

/**
 * The `knative` provider: one Knative Service per replica × chain hop, written as YAML under
 * `<out>/knative/`, applied with kubectl when it is on PATH, and the services' URLs read back from
 * `kubectl get ksvc -o json`. Knative cannot take a function folder, so the container image is the
 * sub-experiment's `image` when it names one, else the image `hivelab build` makes of the
 * sub-experiment's function folder (bench-spin by default), named by its manifest digest under
 * `--registry REF` (`REF/<function>@sha256:…`, so every replica runs exactly the bytes built) and
 * pushed there with `skopeo copy` (image-size padding must be baked into an image;
 * IMAGE_PADDING_MB is passed so the image can report or create it). The settings map as:
 *   memoryMB     → resources.requests/limits.memory (Mi)
 *   concurrency  → containerConcurrency, and the KPA's target (autoscaling.knative.dev/target)
 *   replicas     → distinct services, so cold-start runs need not wait for scale-to-zero
 *   chain        → the next hop's URL in the request body (an image has no Hivelab SDK)
 */
/** Where built images are said to live when no --registry is given (a name, never pulled from here). */
export const DEFAULT_KNATIVE_REGISTRY = 'registry.local/hivelab';

/** A function folder's image as the provider uses it: the archive made here and the reference Services name. */
export interface BuiltBenchImage {
  archive: string;
  /** `<registry>/<function>@sha256:<manifest digest>`. */
  ref: string;
  /** `<registry>/<function>:<tag>`, what `skopeo copy` pushes to (a registry takes a push by tag). */
  pushRef: string;
  manifestDigest: string;
  /** The port the image serves (its ExposedPorts) and whether it speaks gRPC (Knative then proxies h2c). */
  port: number;
  grpc: boolean;
}

/** Builds `sub.function`'s folder with `hivelab build` into `<outDir>/knative/images/`. */
export async function buildBenchImage(sub: SubExperiment, ctx: ProviderContext, registry: string, baseCache?: string): Promise<BuiltBenchImage> {
  const dir = resolveFunctionDir(sub.function, ctx.experimentDir);
  const name = basename(dir).toLowerCase().replace(/[^a-z0-9._-]+/g, '-');
  const archive = join(ctx.outDir, 'knative', 'images', `${name}.tar`);
  await mkdir(dirname(archive), { recursive: true });
  ctx.log(`building the image of ${dir} (hivelab build)`);
  const r = await buildImage({ dir, out: archive, baseCache, progress: (l) => ctx.log(`  ${l}`) });
  const reg = registry.replace(/\/+$/, '');
  const port = Number(Object.keys(r.config.config.ExposedPorts)[0]?.split('/')[0] ?? 8080);
  const grpc = r.config.config.Labels['dev.hivelab.function.protocol'] === 'grpc';
  return { archive, ref: `${reg}/${name}@${r.manifestDigest}`, pushRef: `${reg}/${name}:${r.manifestDigest.slice('sha256:'.length, 'sha256:'.length + 16)}`, manifestDigest: r.manifestDigest, port, grpc };
}

export interface KnativeServiceOptions {
  name: string;
  namespace: string;
  image: string;
  memoryMB: number;
  concurrency: number;
  imageSizeMB: number;
  timeoutSeconds: number;
  labels?: Record<string, string>;
  /** The container's port (default 8080) and, for gRPC, its name `h2c` so Knative speaks HTTP/2 to it. */
  port?: number;
  grpc?: boolean;
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
              ports: [o.grpc ? { name: 'h2c', containerPort: o.port ?? 8080 } : { containerPort: o.port ?? 8080 }],
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
export function knativeManifests(
  sub: SubExperiment,
  index: number,
  runId: string,
  namespace = 'default',
  built?: { ref: string; port: number; grpc: boolean },
): { names: string[][]; services: Record<string, unknown>[] } {
  const chosen = sub.image ?? built?.ref;
  if (!chosen) throw new Error(`sub-experiment ${index}: no image: give "image", or let the knative provider build one from "function"`);
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
          image: chosen,
          memoryMB: sub.memoryMB,
          concurrency: sub.concurrency,
          imageSizeMB: sub.imageSizeMB,
          timeoutSeconds: Math.ceil(sub.timeoutMs / 1000),
          labels: { 'hivelab.dev/run': runId },
          // A given image is taken to serve 8080 (HTTP/1.1, or h2c for a gRPC sub-experiment); a built one says.
          port: sub.image ? 8080 : built?.port,
          grpc: sub.image ? sub.grpc !== undefined : built?.grpc,
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
    private readonly opts: { namespace?: string; kubectl?: string; readyTimeoutMs?: number; registry?: string; skopeo?: string; baseCache?: string } = {},
  ) {}

  /** The image of a sub-experiment without `image`: built, then pushed to --registry with skopeo. */
  private async imageFor(sub: SubExperiment): Promise<BuiltBenchImage | undefined> {
    if (sub.image) return undefined;
    const built = await buildBenchImage(sub, this.ctx, this.opts.registry ?? DEFAULT_KNATIVE_REGISTRY, this.opts.baseCache);
    const skopeo = this.opts.skopeo ?? 'skopeo';
    try {
      await run(skopeo, ['copy', `oci-archive:${built.archive}`, `docker://${built.pushRef}`], { maxBuffer: 16 << 20 });
    } catch (e) {
      throw new Error(
        `knative provider: pushing ${built.archive} to ${built.pushRef} failed (apt-get install -y skopeo; \`skopeo login\` to the registry; --registry REF names it): ${(e as Error).message.split('\n').slice(0, 3).join(' ')}`,
      );
    }
    this.ctx.log(`pushed ${built.archive} as ${built.pushRef}; Services name ${built.ref}`);
    return built;
  }

  async deploy(sub: SubExperiment, index: number): Promise<Deployment> {
    const ns = this.opts.namespace ?? 'default';
    const { names, services } = knativeManifests(sub, index, this.ctx.runId, ns, await this.imageFor(sub));
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
