import type { FunctionManifest, ImageOrigin } from '../manifest/schema.js';

/**
 * A deployed Hivelab function as a Knative Service (serving.knative.dev/v1), so the same function
 * and settings run on a cluster. The mapping:
 *   concurrency          → containerConcurrency, and the KPA's concurrency target unless `scaling.target`
 *   memoryMB             → resources.requests/limits.memory (Mi)
 *   timeoutMs            → timeoutSeconds (rounded up)
 *   scaling.minScale/maxScale/initialScale → autoscaling.knative.dev/min-scale, max-scale, initial-scale
 *   scaling.target, targetUtilization → …/target, …/target-utilization-percentage
 *   scaling.stableWindowS, panicWindowPct, panicThreshold → …/window, …/panic-window-percentage,
 *                                                           …/panic-threshold-percentage
 *   scaling.scaleToZeroGraceS → …/scale-to-zero-pod-retention-period
 *   protocol grpc        → the container port is named h2c (Knative then speaks HTTP/2 to it), port → containerPort
 *   env                  → env
 *   the image            → `knativeImageFor` below
 * A scaling policy other than Knative's own (KPA) has no Knative equivalent: it is kept as a
 * hivelab.dev/scaling-policy annotation and reported in `warnings`.
 */
export interface KnativeExportOptions {
  /**
   * Image reference prefix, e.g. `registry.example.com/lab`: a function folder's image is
   * `<registry>/<name>:<version>`, a locally loaded image's `<registry>/<name>:<12 hex of its id>`.
   */
  registry: string;
  namespace: string;
}

export interface ExportedService {
  service: Record<string, unknown>;
  warnings: string[];
  /** What the user has to do for the Service to run (push an image where it names it). */
  notes: string[];
}

/** `'…'` around a shell word that needs it. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The image as skopeo names a local source: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF]`. */
export function skopeoSource(origin: Exclude<ImageOrigin, { transport: 'registry' }>): string {
  return `${origin.transport}:${origin.path}${origin.tag !== undefined ? `:${origin.tag}` : ''}`;
}

/** A registry host a cluster's nodes cannot reach under that name (it is the exporting machine's). */
function isLoopbackHost(repository: string): boolean {
  const host = repository.slice(0, repository.indexOf('/')).replace(/:\d+$/, '');
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}

/**
 * The container image of a deployed function's Service:
 * - deployed with `--image` from a registry: that image, pinned by the digest of the manifest that
 *   ran here (`<host>/<repo>@sha256:…`), so the cluster runs the same bytes;
 * - deployed with `--image` from a local layout or archive: `<registry>/<name>:<first 12 hex of the
 *   image id>`, and a note with the `skopeo copy` that pushes the archive there;
 * - a function folder: `<registry>/<name>:<version>`, the image `hivelab build --tag <version>` makes.
 */
export function knativeImageFor(m: FunctionManifest, version: string, registry: string): { image: string; notes: string[]; warnings: string[] } {
  const prefix = registry.replace(/\/+$/, '');
  const img = m.image;
  if (!img) return { image: `${prefix}/${m.name}:${version}`, notes: [], warnings: [] };
  const origin = img.origin;
  if (origin?.transport === 'registry' && img.digest) {
    const warnings = isLoopbackHost(origin.repository)
      ? [`${m.name}: its image is in ${origin.repository.split('/')[0]}, this machine's registry: a cluster's nodes will not reach it there (push it elsewhere and edit the image)`]
      : [];
    return { image: `${origin.repository}@${img.digest}`, notes: [], warnings };
  }
  const target = `${prefix}/${m.name}:${img.id.slice('sha256:'.length, 'sha256:'.length + 12)}`;
  const source = origin && origin.transport !== 'registry' ? skopeoSource(origin) : undefined;
  const note = source
    ? `${m.name}: push its image there first: skopeo copy ${shellWord(source)} ${shellWord(`docker://${target}`)}`
    : `${m.name}: push its image (deployed from ${img.ref}) to ${target} first: skopeo copy <transport>:${shellWord(img.ref)} ${shellWord(`docker://${target}`)}`;
  return { image: target, notes: [note], warnings: [] };
}

export function knativeServiceFor(m: FunctionManifest, version: string, o: KnativeExportOptions): ExportedService {
  const warnings: string[] = [];
  const s = m.scaling ?? {};
  const a: Record<string, string> = {
    'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev',
    'autoscaling.knative.dev/metric': 'concurrency',
    'autoscaling.knative.dev/target': String(s.target ?? m.concurrency),
  };
  if (s.minScale !== undefined) a['autoscaling.knative.dev/min-scale'] = String(s.minScale);
  if (s.maxScale !== undefined) a['autoscaling.knative.dev/max-scale'] = String(s.maxScale);
  if (s.initialScale !== undefined) a['autoscaling.knative.dev/initial-scale'] = String(s.initialScale);
  if (s.targetUtilization !== undefined) a['autoscaling.knative.dev/target-utilization-percentage'] = String(Math.round(s.targetUtilization * 100));
  if (s.stableWindowS !== undefined) a['autoscaling.knative.dev/window'] = `${Math.round(s.stableWindowS)}s`;
  if (s.panicWindowPct !== undefined) a['autoscaling.knative.dev/panic-window-percentage'] = String(s.panicWindowPct);
  if (s.panicThreshold !== undefined) a['autoscaling.knative.dev/panic-threshold-percentage'] = String(Math.round(s.panicThreshold * 100));
  if (s.scaleToZeroGraceS !== undefined) a['autoscaling.knative.dev/scale-to-zero-pod-retention-period'] = `${Math.round(s.scaleToZeroGraceS)}s`;
  if (s.policy !== undefined && s.policy !== 'kpa') {
    a['hivelab.dev/scaling-policy'] = s.policy;
    warnings.push(`${m.name}: scaling policy "${s.policy}" has no Knative equivalent; the service uses Knative's KPA`);
  }
  if (s.keepAliveS !== undefined) warnings.push(`${m.name}: scaling.keepAliveS has no per-service Knative setting; not exported`);
  if (m.coldStart && m.coldStart !== 'boot') warnings.push(`${m.name}: cold-start mode "${m.coldStart}" is Hivelab's own; Knative boots containers`);
  const image = knativeImageFor(m, version, o.registry);
  warnings.push(...image.warnings);
  const container: Record<string, unknown> = {
    image: image.image,
    ports: [{ name: m.protocol === 'grpc' ? 'h2c' : 'http1', containerPort: m.command ? m.port : 8080 }],
    resources: { requests: { memory: `${m.memoryMB}Mi` }, limits: { memory: `${m.memoryMB}Mi` } },
  };
  const env = Object.entries(m.env).map(([name, value]) => ({ name, value }));
  if (env.length) container.env = env;
  return {
    warnings,
    notes: image.notes,
    service: {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      metadata: {
        name: m.name,
        namespace: o.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'hivelab', 'hivelab.dev/version': version },
      },
      spec: {
        template: {
          metadata: { annotations: a },
          spec: { containerConcurrency: m.concurrency, timeoutSeconds: Math.ceil(m.timeoutMs / 1000), containers: [container] },
        },
      },
    },
  };
}
