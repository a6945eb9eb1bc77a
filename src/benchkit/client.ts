import { Agent, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { now, waitUntil } from './clock.js';

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

function headerValue(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

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
  const urls = new Map<string, URL>();

  const send = (req: OutgoingRequest): void => {
    let url = urls.get(req.url);
    if (!url) urls.set(req.url, (url = new URL(req.url)));
    const sentAbs = now();
    let startedAbs = sentAbs;
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    let finished = false;
    outstanding++;
    const finish = (error?: Error): void => {
      if (finished) return;
      finished = true;
      const receivedAbs = now();
      outstanding--;
      if (!interrupted) {
        const latencyMs = receivedAbs - sentAbs;
        const coldHeader = headerValue(headers, 'x-hivelab-cold');
        const rec: RequestRecord = {
          id: req.id,
          burstId: req.burstId,
          replica: req.replica,
          url: req.url,
          scheduledMs: req.scheduledMs,
          sentMs: sentAbs - startMs,
          startedMs: startedAbs - startMs,
          receivedMs: receivedAbs - startMs,
          latencyMs,
          status: error ? 0 : status,
          cold: coldHeader !== undefined ? coldHeader === '1' || coldHeader === 'true' : latencyMs >= opts.coldThresholdMs,
          coldFromHeader: coldHeader !== undefined,
          instanceId: headerValue(headers, 'x-hivelab-instance-id') ?? '',
        };
        if (error) rec.error = error.message;
        else if (status >= 400) rec.error = `HTTP ${status}: ${Buffer.concat(chunks).toString('utf8', 0, 300)}`;
        if (opts.keepBodies) rec.body = Buffer.concat(chunks);
        records.push(rec);
        opts.onRecord?.(rec);
      }
      if (outstanding === 0) wakeDone?.();
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {
        startedAbs = now();
      },
      onResponseStart(_c, statusCode, h) {
        status = statusCode;
        headers = h;
      },
      onResponseData(_c, chunk) {
        // Bodies are drained either way (the connection must be reusable); kept when asked, and
        // for failures (their message explains the error in latencies.csv).
        if (opts.keepBodies || (status >= 400 && chunks.length < 4)) chunks.push(chunk);
      },
      onResponseEnd() {
        finish();
      },
      onResponseError(_c, err) {
        finish(err);
      },
    };
    try {
      agent.dispatch(
        {
          origin: url.origin,
          path: url.pathname + url.search,
          method: 'POST',
          body: req.body,
          headers: { 'content-type': 'application/json', ...req.headers },
          reset: !opts.reuseConnections,
        },
        handler,
      );
    } catch (e) {
      // A request undici refuses outright (bad header, closed agent) is a failed request, not a crash.
      finish(e as Error);
    }
  };

  const onAbort = (): void => {
    interrupted = true;
    wakeDone?.();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let i = 0;
    while (i < requests.length && !interrupted) {
      const due = startMs + requests[i]!.scheduledMs;
      // Always yield between turns, even when already late: a client that is behind must still
      // read responses, or it would stop timestamping them while it catches up.
      if (now() < due) await waitUntil(due, opts.signal);
      else await new Promise<void>((r) => setImmediate(r));
      if (interrupted) break;
      // Everything due by now goes out in this turn: a burst, or requests whose timer fired late.
      const t = now();
      while (i < requests.length && startMs + requests[i]!.scheduledMs <= t) send(requests[i++]!);
    }
    if (outstanding > 0 && !interrupted) await new Promise<void>((r) => (wakeDone = r));
    return { records: records.sort((a, b) => a.id - b.id), abandoned: interrupted ? outstanding : 0, interrupted, startMs };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    // Abandoned requests are cut; completed connections close without waiting for keep-alive.
    void agent.destroy().catch(() => {});
  }
}
