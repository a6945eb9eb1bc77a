import type { FunctionManifest } from '../manifest/schema.js';

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
 * A scaling policy other than Knative's own (KPA) has no Knative equivalent: it is kept as a
 * hivelab.dev/scaling-policy annotation and reported in `warnings`.
 */
export interface KnativeExportOptions {
  /** Image reference prefix, e.g. `registry.example.com/lab` → `<registry>/<name>:<version>`. */
  registry: string;
  namespace: string;
}

export interface ExportedService {
  service: Record<string, unknown>;
  warnings: string[];
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
  const registry = o.registry.replace(/\/+$/, '');
  const container: Record<string, unknown> = {
    image: `${registry}/${m.name}:${version}`,
    ports: [{ name: m.protocol === 'grpc' ? 'h2c' : 'http1', containerPort: m.command ? m.port : 8080 }],
    resources: { requests: { memory: `${m.memoryMB}Mi` }, limits: { memory: `${m.memoryMB}Mi` } },
  };
  const env = Object.entries(m.env).map(([name, value]) => ({ name, value }));
  if (env.length) container.env = env;
  return {
    warnings,
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
