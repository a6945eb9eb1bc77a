import { fileURLToPath } from 'node:url';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { statePaths, type StatePaths } from './config/state.js';
import { DEFAULTS } from './config/defaults.js';
import type { ColdStartMode } from './manifest/schema.js';
import { ControlPlane, type ControlPlaneOptions, type PlatformBusEvent } from './control/control-plane.js';
import { createGateway, type RouteHandler } from './gateway/server.js';
import { H2C_CLOSE_GRACE_MS } from './gateway/h2c.js';
import { loadOrCreateTokens, type Tokens } from './gateway/tokens.js';
import { writeFileAtomic } from './core/atomic-write.js';
import { randomBytes } from 'node:crypto';
import { startServices, type Services } from './services/index.js';
import { roleOf } from './gateway/tokens.js';
import { Tracing, PlatformMetrics } from './observability/index.js';
import { createDashboard } from './dashboard/index.js';
import { ControlPlaneView } from './dashboard/control-plane-view.js';
import { snapshotSupport } from './coldstart/availability.js';

export interface PlatformOptions {
  stateDir?: string;
  port?: number;
  host?: string;
  workers?: number;
  workerMemoryBudgetMB?: number;
  /**
   * Instance starts each worker runs at once; the others wait in its FIFO queue, the wait counting
   * against their start deadline (default: the CPUs the worker may use).
   */
  maxStarting?: number;
  /** Idle time fixed-keepalive (and hybrid-histogram's fallback) keep an instance, default 600 s. */
  keepAliveMs?: number;
  /** Scaling policy for functions whose manifest names none; default kpa. */
  policy?: string;
  /** Placement policy for new instances; default least-loaded. */
  placement?: string;
  inlineLimitBytes?: number;
  activatorTimeoutMs?: number;
  coldStart?: ColdStartMode;
  /** Folders to deploy at start (the examples, for `npm start`). */
  deploy?: string[];
  /** When an image no function uses leaves the store (docs/IMAGES.md; tests drive its clock). */
  imageEviction?: ControlPlaneOptions['imageEviction'];
  quiet?: boolean;
  /** Fraction of invocations traced (0 turns tracing off); default 1. */
  traceSampleRate?: number;
  zipkinUrl?: string;
  otlpUrl?: string;
  /** Gateway busy-poll window in µs after each invocation event; 0 turns polling off. */
  busyPollUs?: number;
  /** Start the local S3-API server and Redis for the storage and redis transports (default true). */
  dataServices?: boolean;
  /** Deadlines for receiving a request body (idle and total); defaults in gateway/body.ts. */
  bodyDeadlines?: { idleMs: number; totalMs: number };
  /** Bytes of request bodies still arriving the gateway holds at once (default 256 MiB). */
  bodyBudgetBytes?: number;
  /** Each worker's XDT buffer pool: `buffers` × `bufferBytes` bounds what its producers hold. */
  xdtPool?: { buffers: number; bufferBytes: number };
}

export interface Platform {
  url: string;
  /** The gateway's Unix socket (same API as `url`, for clients on this host). */
  socket: string;
  paths: StatePaths;
  tokens: Tokens;
  control: ControlPlane;
  tracing: Tracing;
  metrics: PlatformMetrics;
  view: ControlPlaneView;
  stop(): Promise<void>;
}

/** The repository root (dist/ sits directly below it). */
export const ROOT_DIR = fileURLToPath(new URL('..', import.meta.url));

/** Starts the whole platform in this process (control plane + gateway) with its worker processes. */
export async function startPlatform(o: PlatformOptions = {}): Promise<Platform> {
  const paths = statePaths(o.stateDir);
  // The state folder holds tokens, tenants' code, logs, snapshots (process memory) and stored
  // objects: no other local user may enter it, whatever mode a file inside is created with. The
  // sandboxes see only what is bind-mounted into them, which needs no search permission here.
  await mkdir(paths.root, { recursive: true, mode: 0o700 });
  await chmod(paths.root, 0o700);
  const tokens = await loadOrCreateTokens(paths.tokens);
  const log = (level: 'info' | 'warn' | 'error', msg: string): void => {
    if (o.quiet && level === 'info') return;
    console[level === 'info' ? 'log' : level](`[hivelab] ${msg}`);
  };
  let url = '';
  const tracing = await Tracing.create({
    sampleRate: o.traceSampleRate ?? 1,
    zipkinUrl: o.zipkinUrl,
    otlpUrl: o.otlpUrl,
    storeDir: paths.traces,
    serviceName: 'hivelab',
    onExportError: (err) => log('warn', `trace export failed: ${err.message}`),
  });
  const metrics = new PlatformMetrics();
  let services: Services | undefined;
  if (o.dataServices !== false) {
    try {
      services = await startServices({
        stateDir: paths.root,
        onCrash: (err) => log('error', `data service crashed: ${err.message}; restarting it (the storage/redis transports fail until then)`),
        onRestart: (name, n) => log('warn', `data service ${name} restarted (${n} restart${n === 1 ? '' : 's'} so far)`),
      });
    } catch (err) {
      log('warn', `storage and redis transports unavailable: ${(err as Error).message}`);
    }
  }
  // Said once at start-up: functions asking for a snapshot mode boot where snapshots cannot work.
  const snapshots = await snapshotSupport();
  if (!snapshots.available) log('warn', `snapshots unavailable on this machine: ${snapshots.reason}; functions with a snapshot cold-start mode boot`);
  const view = new ControlPlaneView();
  if (services) view.serviceStatus = () => services!.status();
  const onEvent = (e: PlatformBusEvent): void => {
    if (e.type === 'instance' && e.state === 'dead') metrics.instanceGone(e.functionName, e.instanceId);
    if (e.type === 'instance' && e.state === 'ready' && e.startMs !== undefined) metrics.recordColdStart(e.functionName, e.mode ?? 'boot', e.startMs);
    if (e.type === 'instance' && e.snapshot) view.setSnapshotStats(e.functionName, e.snapshot);
    view.publish(e);
  };
  const dashboard = createDashboard({
    view,
    metrics,
    traces: tracing.store,
    reportsDir: paths.reports,
    checkToken: (t) => roleOf(tokens, t),
  });
  const extraRoutes: RouteHandler[] = [dashboard.handle];
  const control = new ControlPlane({
    paths,
    rootDir: ROOT_DIR,
    workers: o.workers ?? DEFAULTS.workers,
    workerMemoryBudgetMB: o.workerMemoryBudgetMB ?? DEFAULTS.workerMemoryBudgetMB,
    ...(o.maxStarting !== undefined ? { maxStarting: o.maxStarting } : {}),
    defaultScaling: {
      ...(o.policy ? { policy: o.policy } : {}),
      ...(o.keepAliveMs !== undefined ? { keepAliveS: o.keepAliveMs / 1000 } : {}),
    },
    activatorQueueDepth: DEFAULTS.activatorQueueDepth,
    activatorTimeoutMs: o.activatorTimeoutMs ?? DEFAULTS.activatorTimeoutMs,
    queueProxyQueueFactor: DEFAULTS.queueProxyQueueFactor,
    defaultColdStart: o.coldStart ?? 'boot',
    snapshots,
    ...(o.imageEviction ? { imageEviction: o.imageEviction } : {}),
    placement: o.placement ?? 'least-loaded',
    gatewayUrl: () => url,
    transfers: {
      // A fresh key per platform run: XDT references never outlive their producer instances anyway.
      sealKeyHex: randomBytes(32).toString('hex'),
      s3: services?.s3.config,
      redis: services ? { host: services.redis.host, port: services.redis.port, password: services.redis.password } : undefined,
      pool: o.xdtPool ?? DEFAULTS.xdtPool,
      inlineLimitBytes: o.inlineLimitBytes ?? DEFAULTS.inlineLimitBytes,
    },
    invokeToken: tokens.invoke,
    log,
    emit: onEvent,
    onDecision: (fn, d, ready) => {
      const point = { desired: d.desired, actual: ready, panic: d.panic };
      metrics.recordScaling(fn, point);
      view.scale.record(fn, { time: Date.now(), ...point });
    },
  });
  view.control = control;
  const server = createGateway({
    control,
    tokens,
    inlineLimitBytes: o.inlineLimitBytes ?? DEFAULTS.inlineLimitBytes,
    extraRoutes,
    tracing,
    metrics,
    busyPollUs: o.busyPollUs ?? DEFAULTS.busyPollUs,
    log,
    bodyDeadlines: o.bodyDeadlines,
    serviceStatus: services ? () => services!.status() : undefined,
    bodyBudgetBytes: o.bodyBudgetBytes,
  });
  const host = o.host ?? DEFAULTS.host;
  // The same gateway on a Unix socket, for clients on this host: it skips the loopback TCP stack,
  // which costs the gateway about as much per request as all of its own code (BENCHMARKS.md).
  const socket = join(paths.run, 'gateway.sock');
  const local = createNetServer((conn) => server.emit('connection', conn));
  const listening = (srv: NetServer): Promise<void> =>
    new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.once('listening', () => resolve());
    });
  try {
    server.listen(o.port ?? DEFAULTS.port, host);
    await listening(server);
    url = `http://${host}:${(server.address() as AddressInfo).port}`;
    await mkdir(paths.run, { recursive: true });
    await rm(socket, { force: true });
    local.listen(socket);
    await listening(local);
    await control.start();
  } catch (err) {
    // A port in use or a worker that cannot start must not leave the data services running.
    local.close();
    server.close();
    dashboard.close();
    await services?.stop();
    await tracing.shutdown();
    throw err;
  }
  for (const dir of o.deploy ?? []) {
    try {
      const { deployment } = await control.deploy(dir);
      log('info', `deployed ${deployment.name} (${deployment.version}) from ${dir}`);
    } catch (err) {
      log('error', `could not deploy ${dir}: ${(err as Error).message}`);
    }
  }
  await writeFileAtomic(paths.platform, JSON.stringify({ pid: process.pid, url, socket }, null, 2) + '\n');

  let stopped = false;
  return {
    url,
    socket,
    paths,
    tokens,
    control,
    tracing,
    metrics,
    view,
    async stop() {
      if (stopped) return;
      stopped = true;
      local.close();
      // Idle connections close at once (HTTP/1.1 keep-alive; h2c sessions after a GOAWAY, src/gateway/h2c.ts);
      // requests and streams still open get a short grace to finish, then everything is cut.
      await new Promise<void>((r) => {
        const cut = setTimeout(() => server.closeAllConnections(), H2C_CLOSE_GRACE_MS);
        server.close(() => {
          clearTimeout(cut);
          r();
        });
      });
      await rm(socket, { force: true });
      dashboard.close();
      await control.stop();
      await tracing.shutdown();
      await services?.stop();
      await rm(paths.platform, { force: true });
    },
  };
}
