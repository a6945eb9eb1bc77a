import type { ControlPlane } from './control-plane.js';
import type { ServiceStatus } from '../services/managed-process.js';
import type { AdmissionStats } from '../worker/start-admission.js';

export interface FunctionStatus {
  name: string;
  policy: string;
  ready: number;
  starting: number;
  desired: number | null;
  panic: boolean;
  reason: string | null;
  /** Time-weighted average concurrency in the last metrics second (buffered requests included). */
  observedConcurrency: number;
  /** Requests waiting in the activator. */
  queueLength: number;
  /** The configured cold-start mode, the one used here, and why they differ. */
  coldStart: { configured: string; mode: string; fallback?: string };
  /** Present while failed starts pause new ones: failures in a row, and ms until the next start may begin. */
  startBackoff?: { failures: number; retryInMs: number };
}

export interface WorkerStatus {
  id: string;
  pid: number | null;
  alive: boolean;
  instances: { id: string; function: string; memoryMB: number }[];
  memoryBudgetMB: number;
  memoryCommittedMB: number;
  /** Resident memory of its instances as the cgroups count it. */
  memoryInUseMB: number;
  /** Cold-start admission on the worker: starts allowed at once, running, waiting, the peak (absent when it did not answer). */
  starts?: AdmissionStats;
}

export interface PlatformStatus {
  /** Whether snapshot cold starts work on this machine (and why not). */
  snapshots: { available: boolean; reason?: string; stopMode?: string };
  functions: FunctionStatus[];
  workers: WorkerStatus[];
  /** The data services (Redis, the S3 server) and their supervision: running / restarting, restarts. */
  services: ServiceStatus[];
}

/** What `hivelab status` and `GET /v1/status` show: the autoscaler's view and the fleet's. */
export async function platformStatus(control: ControlPlane, services: ServiceStatus[] = []): Promise<PlatformStatus> {
  const functions = control.listControllers().map((c) => {
    const current = c.instances.filter((i) => i.version === c.deployment.version);
    return {
      name: c.name,
      policy: c.policyName,
      ready: current.filter((i) => i.state === 'ready' || i.state === 'busy').length,
      starting: current.filter((i) => i.state === 'starting').length,
      desired: c.lastDecision?.desired ?? null,
      panic: c.lastDecision?.panic ?? false,
      reason: c.lastDecision?.reason ?? null,
      observedConcurrency: Math.round(c.lastSample.concurrency * 1000) / 1000,
      queueLength: c.bufferedCount,
      coldStart: control.coldStartOf(c.deployment),
      ...(c.startBackoff.failures > 0
        ? { startBackoff: { failures: c.startBackoff.failures, retryInMs: Math.max(0, Math.round(c.startBackoff.until - performance.now())) } }
        : {}),
    };
  });
  const stats = await control.workerStats();
  const views = control.workerViews();
  const workers = control.workers.map((w) => {
    const view = views.find((v) => v.id === w.id)!;
    const s = stats.find((x) => x.workerId === w.id);
    const instances = control
      .listControllers()
      .flatMap((c) => c.instances.filter((i) => i.worker === w && i.state !== 'dead').map((i) => ({ id: i.id, function: c.name, memoryMB: c.deployment.manifest.memoryMB })));
    return {
      id: w.id,
      pid: w.pid ?? null,
      alive: w.alive,
      instances,
      memoryBudgetMB: view.memoryBudgetMB,
      memoryCommittedMB: view.memoryCommittedMB,
      memoryInUseMB: Math.round((s?.instances.reduce((n, i) => n + i.memoryBytes, 0) ?? 0) / (1024 * 1024)),
      ...(s?.starts ? { starts: s.starts } : {}),
    };
  });
  return { snapshots: control.snapshots, functions, workers, services };
}
