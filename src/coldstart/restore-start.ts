import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { InstanceSpec } from '../sandbox/backend.js';
import { SANDBOX_RUN_DIR, sandboxHostname } from '../sandbox/launch.js';
import type { ClaimedCriu, InstanceSandboxes } from '../snapshot/instance-sandbox.js';
import type { ExternalMount } from '../snapshot/mounts.js';
import { Attr, SpanNames, type PhaseTiming } from '../observability/semantic.js';
import { restoreInstance, type RestoredInstance } from '../snapshot/restore.js';
import { commitWorkingSet, dropWorkingSet, type Snapshot } from '../snapshot/store.js';
import { CriuInstance } from './criu-instance.js';
import { probeCommandReady, unixRequest } from '../snapshot/invoke.js';
import { startCriuLazyPages } from '../snapshot/criu-lazy.js';
import { restoreWithMonitor, type MonitoredInstance } from '../reap/lazy-restore.js';
import type { MonitorMode } from '../reap/monitor.js';
import { FILE_PAGES_FILE, recordFilePages, writeFilePages } from '../reap/file-pages.js';
import { isMisprediction, type SnapshotMode, type VersionPolicy } from './policy.js';
import type { RestoreCounters, SnapshotStats } from './stats.js';
import type { SnapshotLifecycle } from './lifecycle.js';
import { invokeWarmUp } from './warm-up.js';
import type { ColdStart } from './start.js';

/**
 * A cold start from a snapshot, in one of four flavours:
 *
 *   snapshot   CRIU's eager restore (every page copied before the runtime runs)
 *   lazy       restore with every page served on demand by our REAP monitor (thesis ch. 4 baseline)
 *   reap       the first restore records the working set of one invocation, later ones prefetch it
 *              with one O_DIRECT read before the runtime runs (thesis ch. 5)
 *   criu-lazy  CRIU's own lazy-pages daemon (peer baseline)
 *
 * Each clone gets a fresh cgroup and, once restored, `POST /_hivelab/restored` with a new random
 * seed and its own identity (a `command` instance: its bridge's readiness probe). Failures here throw; the coordinator boots instead. A corrupted
 * working set is served lazily and dropped (the next start records); a monitor death kills the
 * instance (`monitor-died`) and the version's next cold start boots.
 */

export interface RestoreDeps {
  policy: VersionPolicy;
  counters: RestoreCounters;
  lifecycle: SnapshotLifecycle;
  /** The host side of the instance sandbox: each clone's run folder, the restore root. */
  sandboxes: InstanceSandboxes;
  log: (level: 'info' | 'warn' | 'error', msg: string) => void;
}

export async function restoreStart(deps: RestoreDeps, spec: InstanceSpec, snap: Snapshot, mode: SnapshotMode): Promise<ColdStart> {
  const { policy, log } = deps;
  const fn = spec.manifest.name;
  const key = `${fn}/${snap.meta.version}`;
  const t0 = Date.now();
  const sandboxes = deps.sandboxes;
  // CRIU's log, the clone's socket and the lazy-pages socket: never in the run folder, which the clone can write
  const workDir = sandboxes.workDir(spec);
  const releaseRunDir = await sandboxes.prepareRunDir(spec, await sandboxes.ids(spec));
  const root = await sandboxes.restoreRootFor(spec);
  // the clone's mounts and a CRIU made ready ahead of demand (in groups renamed after this instance
  // and limited): independent, so side by side
  const [cloned, claim] = await Promise.allSettled([
    sandboxes.cloneMounts(spec, snap.meta.mounts),
    sandboxes.claimCriu(spec, { memoryMB: spec.manifest.memoryMB }),
  ]);
  if (cloned.status === 'rejected' || claim.status === 'rejected') {
    if (claim.status === 'fulfilled') await releaseClaim(claim.value);
    if (cloned.status === 'fulfilled') await cloned.value.release();
    await releaseRunDir();
    throw cloned.status === 'rejected' ? cloned.reason : (claim as PromiseRejectedResult).reason;
  }
  const clone = cloned.value;
  const claimed: ClaimedCriu = claim.value;
  const { mounts } = clone;
  const releaseMounts = async () => {
    await clone.release();
    await releaseRunDir();
  };
  const { cgroup } = claimed;
  const base = {
    ready: claimed.criu,
    imagesDir: snap.imagesDir,
    workDir,
    hostname: sandboxHostname(spec.instanceId),
    externalFds: snap.meta.externalFds,
    root,
    imageMounts: snap.meta.mounts,
    mounts,
  };
  let restored: RestoredInstance;
  let monitored: MonitoredInstance | undefined;
  let reapPhase: MonitorMode | undefined;
  let stopDaemon: (() => void) | undefined;
  try {
    if (mode === 'snapshot') {
      restored = await restoreInstance(base);
    } else if (mode === 'criu-lazy') {
      const daemon = await startCriuLazyPages(snap.imagesDir, workDir);
      stopDaemon = daemon.stop;
      restored = await restoreInstance({ ...base, lazyPages: true });
    } else {
      const monitorMode = policy.claimMonitorMode(key, mode, snap.hasWorkingSet);
      reapPhase = mode === 'reap' ? monitorMode : undefined;
      const filePages = join(snap.dir, FILE_PAGES_FILE);
      monitored = await restoreWithMonitor({
        ...base,
        mode: monitorMode,
        pageMapIndex: snap.pageMapIndex,
        imagesDir: snap.imagesDir,
        ...(monitorMode === 'lazy' ? {} : { traceFile: snap.traceFile, wsFile: snap.wsFile }),
        ...(monitorMode === 'prefetch' && existsSync(filePages) ? { filePagesFile: filePages } : {}),
      });
      restored = monitored;
    }
  } catch (err) {
    stopDaemon?.();
    if (reapPhase === 'record') policy.releaseRecording(key);
    await releaseClaim(claimed);
    await releaseMounts();
    await sandboxes.cleanup(spec);
    throw err;
  }
  const tRestored = Date.now();
  const socketPath = restored.socketPath;
  restored.output.pipe(createWriteStream(spec.logFile, { flags: 'a' }));
  const m = monitored;
  const instance = new CriuInstance({
    instanceId: spec.instanceId,
    socketPath,
    pid: restored.pid,
    cgroup,
    logFile: spec.logFile,
    memoryMB: spec.manifest.memoryMB,
    gone: m ? m.exitReason : restored.exited.then(() => 'exited' as const),
    kill: () => restored.kill(),
    monitorStats: m ? () => m.monitor.stats() : undefined,
    afterFirstInvocation: m && reapPhase === 'prefetch' ? () => checkPrediction(log, fn, snap, m) : undefined,
    afterExit: (reason) => {
      stopDaemon?.();
      void releaseMounts().then(() => sandboxes.cleanup(spec));
      if (reason === 'monitor-died') {
        log('error', `${fn}: the REAP monitor of ${spec.instanceId} died; instance killed, next cold start boots and re-records`);
        policy.markBootNext(key);
        void dropWorkingSet(snap).catch(() => undefined);
      }
    },
  });
  const fail = async (what: string, err: unknown): Promise<never> => {
    if (reapPhase === 'record') policy.releaseRecording(key);
    await instance.stop(0);
    throw new Error(`${what}: ${(err as Error).message}`);
  };
  // Clones of one snapshot must not share random state or the original's identity: the shims
  // reseed and adopt the clone's id. A command instance has no shim (its program keeps the
  // snapshot's random state), and its socket accepts whatever became of its program: it is ready
  // when its bridge answers that the program runs and its port answered (a program may not survive
  // a restore, and would take the first request down with it).
  try {
    if (spec.manifest.command) {
      await probeCommandReady(socketPath, 10_000);
    } else {
      const r = await unixRequest(socketPath, 'POST', '/_hivelab/restored', JSON.stringify({ seed: randomBytes(32).toString('hex'), instanceId: spec.instanceId, sidecar: `${SANDBOX_RUN_DIR}/qp.sock` }), 10_000);
      if (r.status !== 200) throw new Error(`answered ${r.status}: ${r.body.toString('utf8').slice(0, 200)}`);
    }
  } catch (err) {
    await fail(spec.manifest.command ? 'restored command instance' : 'POST /_hivelab/restored', err);
  }
  const tReseeded = Date.now();
  const rs = m?.restoreStats;
  if (m?.monitor.wsInvalidReason) {
    log('warn', `${fn}: working set of ${snap.dir} refused (${m.monitor.wsInvalidReason}); served lazily, dropped, the next cold start records again`);
    await dropWorkingSet(snap).catch(() => undefined);
  }
  if (m && reapPhase === 'record') {
    try {
      await record(log, spec, snap, m, socketPath, base.mounts);
    } catch (err) {
      // A clone whose record phase failed may be stuck on a page: never hand it out (boot instead).
      await dropWorkingSet(snap).catch(() => undefined);
      await fail('record phase', err);
    } finally {
      policy.releaseRecording(key);
    }
  }
  const tReady = Date.now();
  // the next start's CRIU, made now that this one no longer needs the CPU (claimCriu says why)
  sandboxes.refillCriu({ memoryMB: spec.manifest.memoryMB });
  instance.timings = { startMs: tReady - t0, restoreMs: restored.restoreMs, criuMs: restored.criuMs, reseedMs: tReseeded - tRestored, ...(reapPhase === 'record' ? { recordMs: tReady - tReseeded } : {}) };
  const pageAttrs: Record<string, number> = rs ? { [Attr.pagesPrefetched]: rs.prefetched, [Attr.faultsOnDemand]: rs.onDemand, [Attr.wsBytes]: rs.wsPages * 4096 } : {};
  const phases: PhaseTiming[] = [{ name: SpanNames.sandboxRestore, startEpochMs: t0, endEpochMs: tRestored, attributes: { 'hivelab.coldstart.restore_mode': reapPhase ?? mode, ...pageAttrs } }];
  if (rs && reapPhase === 'prefetch') {
    // The monitor fetches and installs while CRIU restores: place them at the restore's start.
    phases.push({ name: SpanNames.wsFetch, startEpochMs: t0, endEpochMs: t0 + rs.fetchMs, attributes: { [Attr.wsBytes]: rs.bytesRead } });
    phases.push({ name: SpanNames.wsInstall, startEpochMs: t0 + rs.fetchMs, endEpochMs: t0 + rs.fetchMs + rs.installMs, attributes: { [Attr.pagesPrefetched]: rs.prefetched } });
  }
  instance.phases = phases;
  const c = deps.counters.add(key, { prefetched: rs?.prefetched, onDemand: rs?.onDemand });
  // opened for this start; read again only when this start has just recorded its working set
  const current = reapPhase === 'record' ? await deps.lifecycle.current(snap) : snap;
  const stats: SnapshotStats = {
    snapshotBytes: snap.meta.imageBytes,
    memoryBytes: snap.memoryBytes,
    workingSetPages: current.meta.workingSet?.wsPages,
    workingSetBytes: current.meta.workingSet ? current.meta.workingSet.wsPages * 4096 : undefined,
    pagesPrefetched: c.prefetched,
    pagesOnDemand: c.onDemand,
    restores: c.restores,
    lastRestoreMs: restored.restoreMs,
  };
  return { instance, mode, phases, stats, ...(m ? { monitorStats: () => instance.monitorStats() } : {}) };
}

/** A claimed CRIU that will not restore: it, and whatever it started, go with its groups. */
async function releaseClaim(claimed: ClaimedCriu): Promise<void> {
  claimed.criu.kill();
  await claimed.cgroup.killAll('SIGKILL').catch(() => 0);
  await claimed.cgroup.remove().catch(() => undefined);
}

/** Record phase: one invocation served lazily; its faults become the working set. */
async function record(log: RestoreDeps['log'], spec: InstanceSpec, snap: Snapshot, m: MonitoredInstance, socketPath: string, mounts: ExternalMount[]): Promise<void> {
  // Bounded well below the function timeout, so a failed record phase can still boot in time.
  await invokeWarmUp(spec, socketPath, log, Math.max(2000, spec.manifest.timeoutMs / 2));
  const recorded = await m.monitor.finishRecord();
  // File-backed pages the runtime has mapped now: read ahead on every prefetch (cold host caches).
  // The runtime names them by sandbox paths; the monitor opens them by host paths.
  await writeFilePages(join(snap.dir, FILE_PAGES_FILE), await recordFilePages(m.pid)).catch((err: Error) =>
    log('warn', `${spec.manifest.name}: file pages not recorded: ${err.message}`),
  );
  await commitWorkingSet(snap, recorded.wsPages);
  log('info', `${spec.manifest.name}: recorded a working set of ${recorded.wsPages} pages (${((recorded.wsPages * 4096) / 1048576).toFixed(1)} MB)`);
}

/**
 * Thesis 5.4.1: too many faults outside the prefetched working set during the first invocation →
 * record again next time. Checked when the first invocation is answered: an instance that went on
 * serving other requests touches pages the recorded one never did, which says nothing about the
 * prediction.
 */
async function checkPrediction(log: RestoreDeps['log'], fn: string, snap: Snapshot, m: MonitoredInstance): Promise<void> {
  const s = await m.monitor.stats();
  if (isMisprediction(s)) {
    log('warn', `${fn}: working-set misprediction (${s.onDemand} on-demand faults for ${s.wsPages} prefetched pages); re-recording on the next cold start`);
    await dropWorkingSet(snap);
  }
}
