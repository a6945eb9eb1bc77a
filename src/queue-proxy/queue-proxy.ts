import { Pool, errors as undiciErrors } from 'undici';
import { HttpError } from '../gateway/errors.js';
import { ConcurrencyMeter } from './concurrency-meter.js';
import type { Invocation, InvocationResult } from './invocation.js';
import { SpanNames, Attr } from '../observability/semantic.js';

export interface QueueProxyOptions {
  instanceId: string;
  socketPath: string;
  /** Invocations the instance serves at once (the manifest's `concurrency`). */
  concurrency: number;
  /** Invocations that may wait here beyond `concurrency` (Knative: 10 × concurrency); more get 503. */
  queueDepth: number;
}

/** Why an invocation failed at the instance: decides the status and whether the instance is recycled. */
export class InstanceFailure extends Error {
  constructor(
    readonly kind: 'timeout' | 'connection',
    message: string,
  ) {
    super(message);
    this.name = 'InstanceFailure';
  }
}

/**
 * The per-instance queue-proxy: admits at most `concurrency` invocations into the instance, queues a
 * bounded number more, meters concurrency for the autoscaler and forwards over the instance's Unix
 * socket with kept-alive connections.
 */
export class QueueProxy {
  readonly meter = new ConcurrencyMeter();
  private readonly waiting: Array<() => void> = [];
  private readonly pool: Pool;
  private closed = false;

  constructor(readonly opts: QueueProxyOptions) {
    this.pool = new Pool('http://instance', {
      socketPath: opts.socketPath,
      connections: opts.concurrency,
      pipelining: 1,
      keepAliveTimeout: 10 * 60_000,
      keepAliveMaxTimeout: 10 * 60_000,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  get inFlight(): number {
    return this.meter.inFlight;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** True when an invocation would start at once. */
  get hasFreeSlot(): boolean {
    return !this.closed && this.meter.inFlight < this.opts.concurrency;
  }

  async invoke(inv: Invocation): Promise<InvocationResult> {
    if (this.closed) throw new InstanceFailure('connection', `instance ${this.opts.instanceId} is gone`);
    if (this.meter.inFlight >= this.opts.concurrency) {
      if (this.waiting.length >= this.opts.queueDepth) {
        throw new HttpError(503, 'Overloaded', `instance ${this.opts.instanceId} queue is full (${this.opts.queueDepth})`);
      }
      const wait = inv.trace.startSpan(SpanNames.queueProxyWait, { [Attr.instanceId]: this.opts.instanceId });
      await new Promise<void>((resolve) => this.waiting.push(resolve));
      wait.end();
      if (this.closed) throw new InstanceFailure('connection', `instance ${this.opts.instanceId} is gone`);
    }
    this.meter.begin();
    try {
      return await this.forward(inv);
    } finally {
      this.meter.end();
      this.waiting.shift()?.();
    }
  }

  private async forward(inv: Invocation): Promise<InvocationResult> {
    const remaining = inv.deadline - Date.now();
    if (remaining <= 0) throw new InstanceFailure('timeout', 'deadline passed before the instance was reached');
    const headers: Record<string, string> = {
      'x-hivelab-invocation-id': inv.id,
      'x-hivelab-deadline': String(inv.deadline),
    };
    if (inv.contentType) headers['content-type'] = inv.contentType;
    const process = inv.trace.startSpan(SpanNames.functionProcess, { [Attr.instanceId]: this.opts.instanceId });
    // The runtime continues this trace, so `context.invoke` chains stay one trace.
    const traceparent = inv.trace.traceparent(process) ?? inv.traceparent;
    if (traceparent) headers['traceparent'] = traceparent;
    try {
      // undici's own per-request timeouts rather than an AbortSignal: no extra timer and
      // controller allocated on the warm path.
      const res = await this.pool.request({
        path: '/invoke',
        method: 'POST',
        headers,
        body: inv.body,
        headersTimeout: remaining,
        bodyTimeout: remaining,
      });
      const body = Buffer.from(await res.body.arrayBuffer());
      const out: Record<string, string> = {};
      for (const k in res.headers) {
        const v = res.headers[k];
        if (typeof v === 'string') out[k] = v;
      }
      process.end(res.statusCode < 400 ? 'ok' : 'error');
      return { status: res.statusCode, headers: out, body, instanceId: this.opts.instanceId, cold: inv.cold };
    } catch (err) {
      process.end('error', (err as Error).message);
      if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
        throw new InstanceFailure('timeout', `no response within the function's timeout`);
      }
      if (err instanceof undiciErrors.UndiciError || (err as NodeJS.ErrnoException).code) {
        throw new InstanceFailure('connection', `connection to instance ${this.opts.instanceId} failed: ${(err as Error).message}`);
      }
      throw err;
    }
  }

  /** Fails everything still queued here and drops the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiting.splice(0)) w();
    await this.pool.destroy().catch(() => {});
  }
}
