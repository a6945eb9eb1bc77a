import { Http1Pool, Http1TimeoutError, requestHead, type Http1Handler } from '../net/http1-pool.js';
import { HttpError } from '../core/errors.js';
import { ConcurrencyMeter } from './concurrency-meter.js';
import type { Invocation, InvocationResult } from '../core/invocation.js';
import { SpanNames, Attr } from '../observability/semantic.js';
import { GrpcInstanceClient, GrpcInstanceError } from '../grpc/instance-client.js';
import type { GrpcCall } from '../core/grpc-call.js';

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

interface InstanceReply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Collects one instance response (or the failure that ended it). */
class InstanceResponse implements Http1Handler {
  private status = 0;
  private readonly headers: Record<string, string> = {};
  private readonly chunks: Buffer[] = [];
  constructor(
    private readonly resolve: (r: InstanceReply) => void,
    private readonly reject: (e: Error) => void,
  ) {}
  onHead(status: number, headers: string[]): void {
    this.status = status;
    for (let i = 0; i + 1 < headers.length; i += 2) this.headers[headers[i]!] = headers[i + 1]!;
  }
  onBody(chunk: Buffer): void {
    this.chunks.push(chunk);
  }
  onEnd(): void {
    this.resolve({ status: this.status, headers: this.headers, body: this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks) });
  }
  onError(err: Error): void {
    this.reject(err);
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
  private readonly pool: Http1Pool;
  /** gRPC functions: one HTTP/2 session to the instance, opened on the first call. */
  private grpcClient?: GrpcInstanceClient;
  private closed = false;

  constructor(readonly opts: QueueProxyOptions) {
    this.pool = new Http1Pool({ socketPath: opts.socketPath, connections: opts.concurrency });
  }

  get inFlight(): number {
    return this.meter.inFlight;
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
    const headers: [string, string][] = [
      ['x-hivelab-invocation-id', inv.id],
      ['x-hivelab-deadline', String(inv.deadline)],
    ];
    if (inv.contentType) headers.push(['content-type', inv.contentType]);
    if (inv.clientContext) headers.push(['x-amz-client-context', inv.clientContext]);
    const process = inv.trace.startSpan(SpanNames.functionProcess, { [Attr.instanceId]: this.opts.instanceId });
    // The runtime continues this trace, so `context.invoke` chains stay one trace.
    const traceparent = inv.trace.traceparent(process) ?? inv.traceparent;
    if (inv.grpc) return this.forwardGrpc(inv, remaining, process, traceparent);
    if (traceparent) headers.push(['traceparent', traceparent]);
    try {
      const res = await new Promise<InstanceReply>((resolve, reject) => {
        this.pool.request(requestHead('POST', '/invoke', 'instance', headers, inv.body.length), inv.body, new InstanceResponse(resolve, reject), remaining);
      });
      process.end(res.status < 400 ? 'ok' : 'error');
      return { status: res.status, headers: res.headers, body: res.body, instanceId: this.opts.instanceId, cold: inv.cold };
    } catch (err) {
      process.end('error', (err as Error).message);
      if (err instanceof Http1TimeoutError) throw new InstanceFailure('timeout', `no response within the function's timeout`);
      throw new InstanceFailure('connection', `connection to instance ${this.opts.instanceId} failed: ${(err as Error).message}`);
    }
  }

  /** A gRPC call: its streams pass through; it holds its slot until the instance's stream ends. */
  private async forwardGrpc(inv: Invocation, remaining: number, span: ReturnType<Invocation['trace']['startSpan']>, traceparent: string | undefined): Promise<InvocationResult> {
    // The client learns which instance served it, as for HTTP (x-hivelab-instance-id, x-hivelab-cold).
    const call = Object.create(inv.grpc!) as GrpcCall;
    call.onHeaders = (h, endStream) => inv.grpc!.onHeaders({ ...h, 'x-hivelab-instance-id': this.opts.instanceId, 'x-hivelab-cold': inv.cold ? '1' : '0' }, endStream);
    this.grpcClient ??= new GrpcInstanceClient(this.opts.socketPath);
    const extra: Record<string, string> = { 'x-hivelab-invocation-id': inv.id, 'x-hivelab-deadline': String(inv.deadline) };
    if (traceparent) extra.traceparent = traceparent;
    try {
      const r = await this.grpcClient.forward(call, `${inv.functionName}.hivelab`, remaining, extra);
      const grpcStatus = String(r.trailers['grpc-status'] ?? r.headers['grpc-status'] ?? '');
      span.setAttributes({ 'rpc.grpc.status_code': grpcStatus === '' ? undefined : Number(grpcStatus) });
      span.end(r.cancelled ? 'error' : 'ok', r.cancelled ? 'cancelled by the client' : undefined);
      // 499: the client closed the call (nginx's convention); never the instance's fault.
      return { status: r.cancelled ? 499 : 200, headers: r.headers as Record<string, string>, trailers: r.trailers, body: Buffer.alloc(0), instanceId: this.opts.instanceId, cold: inv.cold };
    } catch (err) {
      span.end('error', (err as Error).message);
      if (err instanceof GrpcInstanceError) {
        throw new InstanceFailure(err.kind, err.kind === 'timeout' ? err.message : `connection to instance ${this.opts.instanceId} failed: ${err.message}`);
      }
      throw err;
    }
  }

  /** Fails everything still queued here and drops the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiting.splice(0)) w();
    this.pool.close();
    this.grpcClient?.close();
  }
}
