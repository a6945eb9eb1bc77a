/**
 * Test harness: two "workers" (each with its own TransferServices: buffer pool, object store, HTTP/2
 * peer server) and a sidecar per instance on a temporary Unix socket, plus a minimal gateway that
 * routes `POST /invoke/<fn>` to in-process handlers. Everything real: sockets, HTTP/2, redis-server,
 * s3rver; the harness cleans up every process, port and directory it made.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { startServices, type Services } from '../../src/services/index.js';
import { createTransferServices, type TransferServices, type TransferServicesOptions } from '../../src/xdt/services.js';
import { startSidecar, type Sidecar } from '../../src/xdt/sidecar/index.js';
import { sdkFor, resolveEventRefs, decodeObject, type HivelabSdk } from '../../src/runtime/node/sdk.js';

export const INVOKE_TOKEN = 'test-invoke-token';

export interface Instance {
  instanceId: string;
  socketPath: string;
  sidecar: Sidecar;
  sdk: HivelabSdk;
}

export type Handler = (event: unknown, self: Instance) => Promise<unknown>;

export class Harness {
  dir = '';
  services: Services | undefined;
  workers: TransferServices[] = [];
  instances: Instance[] = [];
  handlers = new Map<string, { handler: Handler; instance: Instance; raw: boolean; coldStart?: () => Promise<void> }>();
  gateway: http.Server | undefined;
  gatewayUrl = '';
  sealKey = randomBytes(32);

  async start(opts: { services?: boolean; workers?: number; worker?: Partial<TransferServicesOptions> } = {}): Promise<void> {
    this.dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hivelab-xdt-'));
    if (opts.services !== false) this.services = await startServices({ stateDir: this.dir });
    for (let i = 0; i < (opts.workers ?? 2); i++) {
      this.workers.push(
        await createTransferServices({
          stateDir: this.dir,
          sealKey: this.sealKey,
          s3: this.services?.s3.config,
          redis: this.services ? { host: this.services.redis.host, port: this.services.redis.port, password: this.services.redis.password } : undefined,
          pool: { buffers: 160, bufferBytes: 1024 * 1024 },
          ...opts.worker,
        }),
      );
    }
    this.gateway = http.createServer((req, res) => void this.route(req, res));
    await new Promise<void>((r) => this.gateway!.listen(0, '127.0.0.1', () => r()));
    this.gatewayUrl = `http://127.0.0.1:${(this.gateway.address() as AddressInfo).port}`;
  }

  async instance(worker: number, name = 'fn'): Promise<Instance> {
    const instanceId = `${name}-${this.instances.length}`;
    const socketPath = path.join(this.dir, `${instanceId}.sock`);
    const sidecar = await startSidecar({
      socketPath,
      instanceId,
      functionName: name,
      gatewayUrl: this.gatewayUrl,
      invokeToken: INVOKE_TOKEN,
      transfers: this.workers[worker]!,
      uploadDir: path.join(this.dir, '.uploads'),
    });
    const inst = { instanceId, socketPath, sidecar, sdk: sdkFor({ invocationId: `inv-${instanceId}`, functionName: name, sidecar: socketPath }) };
    this.instances.push(inst);
    return inst;
  }

  /** Deploys `handler` as function `name` on a fresh instance of `worker`. */
  /** `coldStart`: the worker's view of a cold instance — prefetch the event's object, then wait for it. */
  async deploy(name: string, worker: number, handler: Handler, opts: { raw?: boolean; coldStart?: () => Promise<void> } = {}): Promise<Instance> {
    const instance = await this.instance(worker, name);
    this.handlers.set(name, { handler, instance, raw: opts.raw ?? false, coldStart: opts.coldStart });
    return instance;
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, body: unknown) => {
      const b = Buffer.from(JSON.stringify(body));
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': b.length });
      res.end(b);
    };
    if (req.headers.authorization !== `Bearer ${INVOKE_TOKEN}`) return send(403, { error: { type: 'Forbidden', message: 'bad token' } });
    const name = decodeURIComponent((req.url ?? '').replace(/^\/invoke\//, ''));
    const entry = this.handlers.get(name);
    if (!entry) return send(404, { error: { type: 'NotFound', message: `no function ${name}` } });
    try {
      if (entry.coldStart) {
        entry.instance.sidecar.prefetch(Buffer.concat(chunks), req.headers['content-type']);
        await entry.coldStart();
      }
      // what the runtime shim does: parse the event, let the instance's sidecar resolve references
      const raw = decodeObject(Buffer.concat(chunks), req.headers['content-type']);
      const event = entry.raw ? raw : await resolveEventRefs(raw, { invocationId: 'gw', functionName: name, sidecar: entry.instance.socketPath });
      send(200, await entry.handler(event, entry.instance));
    } catch (err) {
      const e = err as Error & { type?: string };
      send(502, { error: { type: e.type ?? e.name, message: e.message } });
    }
  }

  async stop(): Promise<void> {
    for (const i of this.instances) await i.sidecar.close();
    for (const w of this.workers) await w.close();
    if (this.gateway) await new Promise<void>((r) => this.gateway!.close(() => r()));
    await this.services?.stop();
    if (this.dir) await fs.rm(this.dir, { recursive: true, force: true });
  }
}

/** Deterministic, non-repeating-looking bytes (a flipped or shifted byte changes the hash). */
export function pattern(size: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = seed * 2654435761 >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  for (; i < size; i++) b[i] = i & 0xff;
  return b;
}
