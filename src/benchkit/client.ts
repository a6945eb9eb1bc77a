import { Agent, type Dispatcher } from 'undici';
import { now, SPIN_WINDOW_MS } from './clock.js';

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
  /** When undici wrote the request onto a connection; sentMs→startedMs is client-side queueing. */
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
  origin: string;
  path: string;
  /** Flat [name, value, …] list: undici takes it without re-walking an object per request. */
  headers: string[];
}

const COLD_HEADER = 'x-hivelab-cold';
const INSTANCE_HEADER = 'x-hivelab-instance-id';

/** Sends `requests` (sorted by scheduledMs) open-loop and resolves when all have completed. */
export async function runOpenLoop(requests: readonly OutgoingRequest[], opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const agent = new Agent({
    connections: opts.connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
  });
  const records: RequestRecord[] = [];
  let outstanding = 0;
  let interrupted = false;
  let wakeDone: (() => void) | undefined;
  const startMs = now() + (opts.leadMs ?? 20);
  const coldThresholdMs = opts.coldThresholdMs;
  const keepBodies = opts.keepBodies;
  const reset = !opts.reuseConnections;

  // Parsed once per distinct URL and header set: at tens of thousands of requests per second the
  // per-request work must stay small, or the client's own cost would show up as send lag.
  const targets = new Map<string, Map<Record<string, string> | undefined, Target>>();
  const target = (req: OutgoingRequest): Target => {
    let byHeaders = targets.get(req.url);
    if (!byHeaders) targets.set(req.url, (byHeaders = new Map()));
    let t = byHeaders.get(req.headers);
    if (!t) {
      const u = new URL(req.url);
      const flat = ['content-type', 'application/json'];
      for (const [k, v] of Object.entries(req.headers ?? {})) flat.push(k, v);
      byHeaders.set(req.headers, (t = { origin: u.origin, path: u.pathname + u.search, headers: flat }));
    }
    return t;
  };

  /**
   * One request in flight: a dispatch handler whose methods live on the prototype (no closures).
   * It uses undici's core handler callbacks (onConnect/onHeaders/…): with them undici neither wraps
   * the handler nor builds a header object per response; only the two x-hivelab headers are read
   * from the raw list.
   */
  class InFlight implements Dispatcher.DispatchHandler {
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
    onConnect(): void {
      this.startedAbs = now();
    }
    onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
      this.status = statusCode;
      for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
        const name = rawHeaders[i]!;
        if (name.length === COLD_HEADER.length && name.toString('latin1').toLowerCase() === COLD_HEADER) this.cold = rawHeaders[i + 1]!.toString('latin1');
        else if (name.length === INSTANCE_HEADER.length && name.toString('latin1').toLowerCase() === INSTANCE_HEADER) this.instanceId = rawHeaders[i + 1]!.toString('utf8');
      }
      return true;
    }
    onData(chunk: Buffer): boolean {
      // Bodies are drained either way (the connection must be reusable); kept when asked, and
      // for failures (their message explains the error in latencies.csv).
      if (keepBodies || (this.status >= 400 && (this.chunks?.length ?? 0) < 4)) (this.chunks ??= []).push(chunk);
      return true;
    }
    onComplete(): void {
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
    const t = target(req);
    const inflight = new InFlight(req, sentAbs);
    outstanding++;
    try {
      agent.dispatch({ origin: t.origin, path: t.path, method: 'POST', body: req.body, headers: t.headers, reset }, inflight);
    } catch (e) {
      // A request undici refuses outright (bad header, closed agent) is a failed request, not a crash.
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
    void agent.destroy().catch(() => {});
  }
}
