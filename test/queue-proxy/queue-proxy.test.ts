/**
 * The queue-proxy alone, against a real HTTP server on a Unix socket standing in for an instance:
 * admission at the instance's concurrency, a bounded FIFO queue beyond it (503 past that), what it
 * forwards, and how a failure is classified (deadline vs connection). The deadline is checked on a
 * fake clock (only Date is faked: the sockets run for real).
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { InstanceFailure, QueueProxy } from '../../src/queue-proxy/queue-proxy.js';
import type { Invocation } from '../../src/core/invocation.js';
import { TRACING_OFF } from '../../src/observability/invocation-trace.js';

let dir: string;
let socketPath: string;
let server: http.Server;
/** Requests the fake instance holds, in arrival order; answer one with `reply`. */
const held: { req: http.IncomingMessage; body: string; res: http.ServerResponse }[] = [];
let arrived: () => void = () => {};

function nextArrival(): Promise<void> {
  return new Promise((r) => (arrived = r));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hivelab-qp-'));
  socketPath = join(dir, 'fn.sock');
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      held.push({ req, body: Buffer.concat(chunks).toString('utf8'), res });
      arrived();
    });
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  vi.useRealTimers();
  for (const h of held.splice(0)) h.res.destroy();
});

function invocation(id: string, deadlineInMs = 30_000): Invocation {
  return { id, functionName: 'f', body: Buffer.from(`{"n":"${id}"}`), contentType: 'application/json', traceparent: undefined, deadline: Date.now() + deadlineInMs, cold: id === 'cold', retries: 0, trace: TRACING_OFF };
}

function reply(i: number, status = 200, body = 'ok'): void {
  const h = held[i]!;
  h.res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  h.res.end(body);
}

describe('queue-proxy', () => {
  it('forwards the invocation with its id, deadline and content type, and returns the answer with the instance id and cold flag', async () => {
    const qp = new QueueProxy({ instanceId: 'i-1', socketPath, concurrency: 1, queueDepth: 1 });
    const inv = invocation('cold');
    const arrival = nextArrival();
    const result = qp.invoke(inv);
    await arrival;
    expect(held[0]!.req.url).toBe('/invoke');
    expect(held[0]!.req.headers['x-hivelab-invocation-id']).toBe('cold');
    expect(held[0]!.req.headers['x-hivelab-deadline']).toBe(String(inv.deadline));
    expect(held[0]!.req.headers['content-type']).toBe('application/json');
    expect(held[0]!.body).toBe('{"n":"cold"}');
    reply(0, 201, 'made');
    expect(await result).toMatchObject({ status: 201, instanceId: 'i-1', cold: true, headers: { 'content-type': 'text/plain' } });
    expect((await result).body.toString()).toBe('made');
    await qp.close();
  });

  it('admits at most `concurrency` into the instance, queues `queueDepth` more in order, and answers 503 beyond', async () => {
    const qp = new QueueProxy({ instanceId: 'i-2', socketPath, concurrency: 1, queueDepth: 1 });
    const first = nextArrival();
    const a = qp.invoke(invocation('a'));
    await first;
    const b = qp.invoke(invocation('b'));
    await expect(qp.invoke(invocation('c'))).rejects.toMatchObject({ status: 503, type: 'Overloaded' });
    expect(qp.inFlight).toBe(1);
    expect(held).toHaveLength(1); // b waits in the queue-proxy, not at the instance

    const second = nextArrival();
    reply(0);
    await a;
    await second;
    expect(held[1]!.req.headers['x-hivelab-invocation-id']).toBe('b');
    reply(1);
    await b;
    expect(qp.inFlight).toBe(0);
    await qp.close();
  });

  it('fails with a timeout, without reaching the instance, once the deadline has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_700_000_000_000 });
    const qp = new QueueProxy({ instanceId: 'i-3', socketPath, concurrency: 1, queueDepth: 1 });
    const inv = invocation('late', 1_000);
    vi.setSystemTime(1_700_000_000_000 + 1_000);
    const err = await qp.invoke(inv).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InstanceFailure);
    expect((err as InstanceFailure).kind).toBe('timeout');
    expect(held).toHaveLength(0);
    expect(qp.inFlight).toBe(0);
    await qp.close();
  });

  it('classifies a broken connection as a connection failure, and frees the slot', async () => {
    const qp = new QueueProxy({ instanceId: 'i-4', socketPath, concurrency: 1, queueDepth: 1 });
    const arrival = nextArrival();
    const a = qp.invoke(invocation('a'));
    await arrival;
    held[0]!.res.destroy(); // the instance died mid-request
    const err = await a.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InstanceFailure);
    expect((err as InstanceFailure).kind).toBe('connection');
    expect(qp.inFlight).toBe(0);
    await qp.close();
  });

  it('on close, fails what still waits in its queue and refuses new invocations', async () => {
    const qp = new QueueProxy({ instanceId: 'i-5', socketPath, concurrency: 1, queueDepth: 2 });
    const arrival = nextArrival();
    const a = qp.invoke(invocation('a'));
    await arrival;
    const queued = qp.invoke(invocation('b'));
    await qp.close();
    await expect(queued).rejects.toMatchObject({ kind: 'connection' });
    await expect(qp.invoke(invocation('c'))).rejects.toMatchObject({ kind: 'connection' });
    await a.catch(() => {});
  });
});
