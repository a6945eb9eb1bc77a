import { Http1Pool, requestHead, type Http1Handler } from '../net/http1-pool.js';
import { now, SPIN_WINDOW_MS } from './clock.js';
import { GrpcSender } from './grpc-request.js';

/**
 * The open-loop client (STeLLAR's client, §3.3). Requests leave at their scheduled times whether or
 * not earlier ones have returned — a closed-loop client would slow down exactly when the target
 * does and hide its tail. One thread sends everything: all requests due are dispatched in one turn
 * of the loop, and each request's send lag (sent − scheduled) is recorded so the run can show that
 * the client itself did not distort the latencies.
 */

/** One request to send: where, what, and when (ms after the run's start). */
export interface OutgoingRequest {
  id: number;
  burstId: number;
  replica: number;
  scheduledMs: number;
  url: string;
  body: Buffer;
  headers?: Record<string, string>;
  /** POST unless given (STeLLAR's request format is a GET with the parameters in the query). */
  method?: 'GET' | 'POST';
}

/** A function's own timestamps for one hop of a chain (epoch ms, taken inside the function). */
export interface HopStamp {
  function?: string;
  instance?: string;
  /** When the hop had its input (after any storage/XDT retrieval). */
  receivedAtMs: number;
  /** When it started handing its output to the next function (before put/invoke). */
  transferStartAtMs?: number;
}

export interface RequestRecord {
  id: number;
  burstId: number;
  replica: number;
  url: string;
  /** All times are ms on the kit's monotonic clock, relative to the run's start. */
  scheduledMs: number;
  sentMs: number;
  /** When the request was written onto a connection; sentMs→startedMs is client-side queueing. */
  startedMs: number;
  receivedMs: number;
  latencyMs: number;
  /** HTTP status, or 0 when no response came (connection error, timeout). */
  status: number;
  error?: string;
  cold: boolean;
  /** True when `cold` came from the x-hivelab-cold header, false when from coldThresholdMs. */
  coldFromHeader: boolean;
  instanceId: string;
  /** The response body when `keepBodies` (chains: it carries the hops' timestamps). */
  body?: Buffer;
}

export interface OpenLoopOptions {
  /** Connections per origin; null = as many as outstanding requests (true open loop). */
  connections: number | null;
  /** Keep-alive connection reuse; false opens a fresh connection per request. */
  reuseConnections: boolean;
  timeoutMs: number;
  coldThresholdMs: number;
  keepBodies: boolean;
  /** Called as each request completes (progress bar). */
  onRecord?: (r: RequestRecord) => void;
  /** Aborting stops sending; the records completed so far are returned. */
  signal?: AbortSignal;
  /** Head start before t = 0 so the first burst is not late because of setup. */
  leadMs?: number;
}

export interface OpenLoopResult {
  records: RequestRecord[];
  /** Requests that were sent but had not completed when the run was aborted. */
  abandoned: number;
  interrupted: boolean;
  /** Monotonic time of t = 0. */
  startMs: number;
}

interface Target {
  pool: Http1Pool;
  path: string;
  host: string;
  method: string;
  headers: [string, string][];
  /** The last body sent and its whole request (head + body), reused while the body is the same. */
  lastBody?: Buffer;
  lastBytes?: Buffer;
}

const COLD_HEADER = 'x-hivelab-cold';
const INSTANCE_HEADER = 'x-hivelab-instance-id';

/** Sends `requests` (sorted by scheduledMs) open-loop and resolves when all have completed. */
export async function runOpenLoop(requests: readonly OutgoingRequest[], opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const reuse = opts.reuseConnections;
  const pools = new Map<string, Http1Pool>();
  const poolFor = (u: URL): Http1Pool => {
    let p = pools.get(u.origin);
    if (!p) {
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`unsupported URL scheme ${u.protocol} (http or https)`);
      const tls = u.protocol === 'https:';
      const port = u.port ? Number(u.port) : tls ? 443 : 80;
      pools.set(u.origin, (p = new Http1Pool({ host: u.hostname.replace(/^\[|\]$/g, ''), port, tls, connections: opts.connections, keepAlive: reuse })));
    }
    return p;
  };

  // Parsed once per distinct URL and header set, and serialised once per distinct body: at tens of
  // thousands of requests per second the per-request work must stay small, or the client's own cost
  // would show up as send lag.
  const targets = new Map<string, Map<Record<string, string> | undefined, Target>>();
  const target = (req: OutgoingRequest): Target => {
    let byHeaders = targets.get(req.url);
    if (!byHeaders) targets.set(req.url, (byHeaders = new Map()));
    let t = byHeaders.get(req.headers);
    if (!t) {
      const u = new URL(req.url);
      const headers: [string, string][] = [['content-type', 'application/json'], ...Object.entries(req.headers ?? {})];
      byHeaders.set(req.headers, (t = { pool: poolFor(u), path: u.pathname + u.search, host: u.host, method: req.method ?? 'POST', headers }));
    }
    return t;
  };
  const bytesOf = (t: Target, body: Buffer): Buffer => {
    if (t.lastBody !== body) {
      t.lastBody = body;
      t.lastBytes = Buffer.concat([Buffer.from(requestHead(t.method, t.path, t.host, t.headers, body.length, reuse), 'latin1'), body]);
    }
    return t.lastBytes!;
  };

  // Open the kept-alive connections before t = 0, so the first requests do not wait for handshakes.
  if (reuse && opts.connections !== null) {
    for (const req of requests) {
      try {
        if (!req.url.startsWith('grpc:')) target(req);
      } catch {
        // A bad URL fails its own request when it is due.
      }
    }
    const conns = opts.connections;
    await Promise.all([...pools.values()].map((p) => p.preconnect(conns).catch(() => {})));
  }

  const records: RequestRecord[] = [];
  /** gRPC calls (`grpc://` URLs) go over HTTP/2 sessions instead of the HTTP/1.1 pools. */
  let grpc: GrpcSender | undefined;
  let outstanding = 0;
  let interrupted = false;
  let wakeDone: (() => void) | undefined;
  const startMs = now() + (opts.leadMs ?? 20);
  const coldThresholdMs = opts.coldThresholdMs;
  const keepBodies = opts.keepBodies;
  const timeoutMs = opts.timeoutMs;

  /** One request in flight: a handler whose methods live on the prototype (no closures). */
  class InFlight implements Http1Handler {
    startedAbs: number;
    status = 0;
    cold: string | undefined;
    instanceId: string | undefined;
    chunks: Buffer[] | undefined;
    finished = false;
    constructor(
      readonly req: OutgoingRequest,
      readonly sentAbs: number,
    ) {
      this.startedAbs = sentAbs;
    }
    onStart(): void {
      this.startedAbs = now();
    }
    onHead(status: number, headers: string[]): void {
      this.status = status;
      for (let i = 0; i + 1 < headers.length; i += 2) {
        const name = headers[i]!;
        if (name === COLD_HEADER) this.cold = headers[i + 1];
        else if (name === INSTANCE_HEADER) this.instanceId = headers[i + 1];
      }
    }
    onBody(chunk: Buffer): void {
      // Kept when asked, and for failures (their message explains the error in latencies.csv).
      if (keepBodies || (this.status >= 400 && (this.chunks?.length ?? 0) < 4)) (this.chunks ??= []).push(chunk);
    }
    onEnd(): void {
      this.finish();
    }
    onError(err: Error): void {
      this.finish(err);
    }
    finish(error?: Error): void {
      if (this.finished) return;
      this.finished = true;
      const receivedAbs = now();
      outstanding--;
      if (!interrupted) {
        const { req, status } = this;
        const latencyMs = receivedAbs - this.sentAbs;
        const coldHeader = this.cold;
        const body = this.chunks ? Buffer.concat(this.chunks) : undefined;
        const rec: RequestRecord = {
          id: req.id,
          burstId: req.burstId,
          replica: req.replica,
          url: req.url,
          scheduledMs: req.scheduledMs,
          sentMs: this.sentAbs - startMs,
          startedMs: this.startedAbs - startMs,
          receivedMs: receivedAbs - startMs,
          latencyMs,
          status: error ? 0 : status,
          cold: coldHeader !== undefined ? coldHeader === '1' || coldHeader === 'true' : latencyMs >= coldThresholdMs,
          coldFromHeader: coldHeader !== undefined,
          instanceId: this.instanceId ?? '',
        };
        if (error) rec.error = error.message;
        else if (status >= 400) rec.error = `HTTP ${status}: ${body?.toString('utf8', 0, 300) ?? ''}`;
        if (keepBodies) rec.body = body ?? Buffer.alloc(0);
        records.push(rec);
        opts.onRecord?.(rec);
      }
      if (outstanding === 0) wakeDone?.();
    }
  }

  /** Sends `req`, stamped with `sentAbs` (the clock read that also found it due). */
  const send = (req: OutgoingRequest, sentAbs: number): void => {
    const inflight = new InFlight(req, sentAbs);
    outstanding++;
    if (req.url.startsWith('grpc:')) {
      (grpc ??= new GrpcSender()).request(req.url, req.headers ?? {}, req.body, inflight, timeoutMs);
      return;
    }
    try {
      const t = target(req);
      t.pool.request(bytesOf(t, req.body), undefined, inflight, timeoutMs);
    } catch (e) {
      // A request that cannot be formed (bad URL or header) is a failed request, not a crash.
      inflight.finish(e as Error);
    }
  };

  let stopSending: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    interrupted = true;
    if (timer) clearTimeout(timer);
    stopSending?.();
    wakeDone?.();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  try {
    // One callback per turn of the event loop, no promise or listener per wait: at tens of
    // thousands of requests per second the scheduler's own allocations would show up as send lag.
    await new Promise<void>((resolve) => {
      stopSending = resolve;
      let i = 0;
      const n = requests.length;
      const tick = (): void => {
        timer = undefined;
        if (interrupted) return resolve();
        // Everything due by now goes out in this turn: a burst, or requests whose timer fired
        // late. One clock read per send: it stamps the send and decides whether the next is due.
        let t = now();
        while (i < n && startMs + requests[i]!.scheduledMs <= t) {
          send(requests[i++]!, t);
          t = now();
        }
        if (i >= n) return resolve();
        // A coarse timer (which fires up to ~1 ms late, more under load) sleeps until just before
        // the next deadline; then setImmediate polls the clock. Both yield to I/O, even when
        // already late: a client that is behind must still read and timestamp responses.
        const coarse = startMs + requests[i]!.scheduledMs - t - SPIN_WINDOW_MS;
        if (coarse > 1) timer = setTimeout(tick, coarse);
        else setImmediate(tick);
      };
      if (interrupted) resolve();
      else setImmediate(tick);
    });
    if (outstanding > 0 && !interrupted) await new Promise<void>((r) => (wakeDone = r));
    return { records: records.sort((a, b) => a.id - b.id), abandoned: interrupted ? outstanding : 0, interrupted, startMs };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    if (timer) clearTimeout(timer);
    // Abandoned requests are cut; completed connections close without waiting for keep-alive.
    for (const p of pools.values()) p.close();
    grpc?.close();
  }
}
