import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Invocation, Invoker } from './invoker.js';
import type { SuiteEvent, SuiteFunction } from './types.js';

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

/**
 * Reaches suite functions through the platform's HTTP API. `prepare` deletes then deploys the
 * function, so the next invocation has no instance to reuse and is a cold (boot) start.
 *
 * Resident memory assumption: `GET /v1/functions/<name>` returns `{instances: [{id, memoryBytes}]}`
 * (`id` may also be spelled `instanceId`); the suite reads the instance that served the invocation
 * (`x-hivelab-instance-id`), or the largest when it cannot tell.
 */
export class PlatformInvoker implements Invoker {
  readonly kind = 'platform';
  constructor(private readonly endpoint: PlatformEndpoint) {}

  async prepare(fn: SuiteFunction): Promise<void> {
    await this.remove(fn.name);
    await this.deploy(fn);
  }

  async deploy(fn: SuiteFunction): Promise<unknown> {
    const res = await this.request('POST', '/v1/functions', this.endpoint.adminToken, { path: fn.dir });
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

  async close(): Promise<void> {}

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
