import { join } from 'node:path';
import type { LedgerReply, WorkerConfig, WorkerEvent, WorkerMessage, WorkerRequest } from './protocol.js';
import { exhausted, type RetrievalLedger } from '../transfer/retrieval-ledger.js';
import { InstanceManager } from './instance-manager.js';
import { createColdStartCoordinator } from '../coldstart/coordinator.js';
import { sweepOrphanCgroups } from '../sandbox/cgroup.js';
import { instanceCgroupLive, sweepStaleRunDirs } from '../sandbox/run-dir.js';
import { ImageStore } from '../image/store.js';
import { SandboxUids } from '../sandbox/uids.js';
import { createTransferServices, startSidecar } from '../xdt/sidecar/index.js';

/**
 * A worker process: runs instances for the control plane and reports their deaths. It lives in its
 * own process so that a worker crash (or a researcher's experiment killing one) is contained and
 * detectable, as a node failure is in a real cluster.
 */

if (!process.send) {
  console.error('hivelab worker: must be started by the control plane (with an IPC channel)');
  process.exit(2);
}
// The config (with the seal key, the invoke token and the Redis password) is the first IPC message:
// secrets never sit in argv or the environment, which other local users can read.
const config = await new Promise<WorkerConfig>((resolve) => {
  process.once('message', (m: { op?: string; config?: WorkerConfig }) => {
    if (m?.op !== 'configure' || !m.config?.workerId) {
      console.error('hivelab worker: the first message must be {op: "configure", config}');
      process.exit(2);
    }
    resolve(m.config);
  });
});

const send = (msg: WorkerMessage): void => {
  if (process.connected) process.send!(msg);
};

// Groups orphaned by a worker that was killed (e.g. the one this worker replaces).
void sweepOrphanCgroups().catch(() => {});
const workerLog = (level: 'info' | 'warn' | 'error', message: string): void => {
  const event: WorkerEvent = { event: 'log', level, message };
  if (process.send && process.connected) process.send(event);
  else process.stderr.write(`hivelab worker [${level}]: ${message}\n`);
};
const coldStarter = createColdStartCoordinator({
  rootDir: config.rootDir,
  stateDir: config.stateDir,
  log: workerLog,
  ...(config.snapshots && !config.snapshots.available ? { snapshotsUnavailable: config.snapshots.reason ?? 'snapshots unavailable' } : {}),
});
// Retrievals of inline and storage references are counted in the control plane's ledger, so that
// a reference is not retrieved once more on every worker.
const ledgerWaiters = new Map<number, (ok: boolean) => void>();
let ledgerSeq = 0;
const ledger: RetrievalLedger = {
  claim(id, n, e) {
    const seq = ++ledgerSeq;
    return new Promise<void>((resolve, reject) => {
      ledgerWaiters.set(seq, (ok) => (ok ? resolve() : reject(exhausted())));
      send({ event: 'ledger-claim', seq, id, n, e });
    });
  },
};
const transfers = await createTransferServices({
  stateDir: config.stateDir,
  sealKey: Buffer.from(config.transfers.sealKeyHex, 'hex'),
  s3: config.transfers.s3,
  redis: config.transfers.redis,
  pool: config.transfers.pool,
  inlineLimitBytes: config.transfers.inlineLimitBytes,
  ledger,
});
const runRoot = join(config.stateDir, 'run');
// Run-folder tmpfs mounts of instances a killed worker left behind.
void sweepStaleRunDirs(runRoot, (id) => instanceCgroupLive(id)).catch(() => {});
const manager = new InstanceManager(
  coldStarter,
  {
    workerId: config.workerId,
    runRoot,
    logRoot: join(config.stateDir, 'logs'),
    memoryBudgetMB: config.memoryBudgetMB,
    ...(config.maxStarting !== undefined ? { maxStarting: config.maxStarting } : {}),
  },
  (instanceId, info) => send({ event: 'exit', instanceId, info }),
  (req, runDir) =>
    startSidecar({
      socketPath: join(runDir, 'qp.sock'),
      instanceId: req.instanceId,
      functionName: req.functionName,
      gatewayUrl: config.gatewayUrl,
      invokeToken: config.invokeToken,
      transfers,
      // next to the instances' run folders (same file system), mounted into no sandbox
      uploadDir: join(runRoot, '.uploads'),
      defaultTransfer: req.manifest.transfer,
    }),
  transfers.ttlMs,
  // one unprivileged uid per function, kept in the state folder (docs/SANDBOX.md)
  new SandboxUids(join(config.stateDir, 'sandbox-uids')),
  new ImageStore(join(config.stateDir, 'images')),
);

async function handle(req: WorkerRequest): Promise<unknown> {
  switch (req.op) {
    case 'start':
      return manager.start(req);
    case 'stop':
      return manager.stop(req.instanceId, req.force);
    case 'first-served':
      return manager.firstServed(req.instanceId);
    case 'stats':
      return manager.stats();
  }
}

process.on('message', (req: WorkerRequest | LedgerReply) => {
  if (req.op === 'ledger-reply') {
    ledgerWaiters.get(req.seq)?.(req.ok);
    ledgerWaiters.delete(req.seq);
    return;
  }
  handle(req).then(
    (result) => send({ reqId: req.reqId, ok: true, result: result ?? null }),
    (err: Error & { detail?: string; type?: string }) =>
      send({ reqId: req.reqId, ok: false, error: { message: err.message, detail: err.detail, type: err.type ?? err.name } }),
  );
});

// The control plane going away means nobody can route to our instances any more: stop them all.
const shutdown = async (): Promise<void> => {
  await manager.stopAll();
  await transfers.close().catch(() => {});
  process.exit(0);
};
process.on('disconnect', () => void shutdown());
process.on('SIGTERM', () => void shutdown());

send({ event: 'ready', workerId: config.workerId });
