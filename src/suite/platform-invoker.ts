import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FUNCTION_HEADER } from '../grpc/route.js';
import { grpcStatusName } from '../grpc/status.js';
import { H2Sessions, grpcMessages, loadUnaryMethod, startUnaryCall, type UnaryMethod, type UnaryOutcome } from '../grpc/unary.js';
import type { Invocation, Invoker } from './invoker.js';
import type { SuiteEvent, SuiteFunction } from './types.js';

/** How long the suite waits for a gRPC call's answer (a cold start of a Python server included). */
export const GRPC_CALL_TIMEOUT_MS = 300_000;

/** What the suite needs from a running platform's state folder (docs/CONTRACTS.md, "State folder"). */
export interface PlatformEndpoint {
  url: string;
  adminToken: string;
  invokeToken: string;
}

export async function readEndpoint(stateDir: string): Promise<PlatformEndpoint> {
  const read = async (file: string): Promise<Record<string, unknown>> => {
    try {
      return JSON.parse(await readFile(join(stateDir, file), 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`cannot read ${join(stateDir, file)} (is the platform running? \`hivelab up\`): ${(err as Error).message}`);
    }
  };
  const platform = await read('platform.json');
  const tokens = await read('tokens.json');
  if (typeof platform.url !== 'string') throw new Error(`${join(stateDir, 'platform.json')} has no "url"`);
  if (typeof tokens.admin !== 'string') throw new Error(`${join(stateDir, 'tokens.json')} has no "admin" token`);
  return { url: platform.url.replace(/\/$/, ''), adminToken: tokens.admin, invokeToken: typeof tokens.invoke === 'string' ? tokens.invoke : tokens.admin };
}

/** An error response from the platform, with its HTTP status and `{error:{type,message}}` body. */
export class PlatformError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly type?: string,
  ) {
    super(message);
    this.name = 'PlatformError';
  }
}

/** A gRPC call that ended with a status other than OK (or none): the status, its name and message. */
export class GrpcCallError extends Error {
  constructor(
    readonly path: string,
    readonly status: number | undefined,
    readonly grpcMessage: string,
  ) {
    super(`${path}: ${status === undefined ? 'the call ended without a grpc-status' : `grpc-status ${status} ${grpcStatusName(status)}`}${grpcMessage ? `: ${grpcMessage}` : ''}`);
    this.name = 'GrpcCallError';
  }
}

/**
 * Reaches suite functions through the platform's HTTP API. `prepare` deletes then deploys the
 * function, so the next invocation has no instance to reuse and is a cold (boot) start. A gRPC
 * function is deployed under the suite's name for it and invoked with one unary call through the
 * gateway (h2c, on the same port), naming the function with `x-hivelab-function`; its reply is
 * decoded with the method's proto.
 *
 * Resident memory assumption: `GET /v1/functions/<name>` returns `{instances: [{id, memoryBytes}]}`
 * (`id` may also be spelled `instanceId`); the suite reads the instance that served the invocation
 * (`x-hivelab-instance-id`), or the largest when it cannot tell.
 */
export class PlatformInvoker implements Invoker {
  readonly kind = 'platform';
  private readonly h2 = new H2Sessions();
  private readonly methods = new Map<string, UnaryMethod>();
  constructor(private readonly endpoint: PlatformEndpoint) {}

  async prepare(fn: SuiteFunction): Promise<void> {
    await this.remove(fn.name);
    await this.deploy(fn);
  }

  async deploy(fn: SuiteFunction): Promise<unknown> {
    // A gRPC folder's own name may be an HTTP suite function's (vSwarm's fibonacci-python): it is renamed.
    const res = await this.request('POST', '/v1/functions', this.endpoint.adminToken, { path: fn.dir, ...(fn.grpc ? { manifest: { name: fn.name } } : {}) });
    return res.body;
  }

  async remove(name: string): Promise<void> {
    try {
      await this.request('DELETE', `/v1/functions/${encodeURIComponent(name)}`, this.endpoint.adminToken);
    } catch (err) {
      if (!(err instanceof PlatformError && err.status === 404)) throw err;
    }
  }

  async invoke(fn: SuiteFunction, event: SuiteEvent): Promise<Invocation> {
    if (fn.grpc) return this.invokeGrpc(fn, event);
    const started = performance.now();
    const res = await this.request('POST', `/invoke/${encodeURIComponent(fn.name)}`, this.endpoint.invokeToken, event);
    const ms = performance.now() - started;
    const cold = res.headers.get('x-hivelab-cold');
    return { output: res.body, ms, cold: cold === null ? undefined : cold === '1', instanceId: res.headers.get('x-hivelab-instance-id') ?? undefined };
  }

  async residentMB(fn: SuiteFunction, instanceId?: string): Promise<number | undefined> {
    const res = await this.request('GET', `/v1/functions/${encodeURIComponent(fn.name)}`, this.endpoint.adminToken);
    const instances = (res.body as { instances?: Array<{ id?: string; instanceId?: string; memoryBytes?: number }> })?.instances ?? [];
    const sized = instances.filter((i) => typeof i.memoryBytes === 'number' && i.memoryBytes > 0);
    const mine = sized.find((i) => instanceId !== undefined && (i.id ?? i.instanceId) === instanceId);
    const bytes = mine?.memoryBytes ?? (sized.length ? Math.max(...sized.map((i) => i.memoryBytes!)) : undefined);
    return bytes === undefined ? undefined : bytes / 2 ** 20;
  }

  /** One unary call with `event` as the request message; rejects with a GrpcCallError unless the status is OK. */
  private async invokeGrpc(fn: SuiteFunction, event: SuiteEvent): Promise<Invocation> {
    const { proto, method } = fn.grpc!;
    const key = `${proto}\0${method}`;
    let m = this.methods.get(key);
    if (!m) this.methods.set(key, (m = loadUnaryMethod(proto, method)));
    const body = m.encode(event ?? {});
    const origin = new URL(this.endpoint.url).host;
    const started = performance.now();
    const outcome = await new Promise<UnaryOutcome>((resolve, reject) =>
      startUnaryCall(
        this.h2.get(origin),
        { path: m.path, headers: { authorization: `Bearer ${this.endpoint.invokeToken}`, [FUNCTION_HEADER]: fn.name }, body, timeoutMs: GRPC_CALL_TIMEOUT_MS },
        (err, out) => (err ? reject(new Error(`${m.path}: ${err.message}`)) : resolve(out!)),
      ),
    );
    const ms = performance.now() - started;
    if (outcome.status !== 0) throw new GrpcCallError(m.path, outcome.status, outcome.message);
    const messages = grpcMessages(Buffer.concat(outcome.data));
    if (messages.length !== 1) throw new Error(`${m.path}: a unary call answered ${messages.length} messages`);
    const cold = outcome.metadata['x-hivelab-cold'];
    return { output: m.decode(messages[0]!), ms, cold: cold === undefined ? undefined : cold === '1', instanceId: outcome.metadata['x-hivelab-instance-id'] };
  }

  async close(): Promise<void> {
    this.h2.close();
  }

  private async request(method: string, path: string, token: string, body?: unknown): Promise<{ body: unknown; headers: Headers }> {
    const res = await fetch(`${this.endpoint.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text.length > 0) parsed = JSON.parse(text);
    if (!res.ok) {
      const error = (parsed as { error?: { type?: string; message?: string } })?.error;
      throw new PlatformError(`${method} ${path}: ${res.status} ${error?.type ?? ''} ${error?.message ?? text.slice(0, 300)}`.replace(/\s+/g, ' '), res.status, error?.type);
    }
    return { body: parsed, headers: res.headers };
  }
}
