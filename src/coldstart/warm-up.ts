import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstanceSpec } from '../sandbox/backend.js';
import { unixRequest } from '../snapshot/invoke.js';
import { grpcUnaryOverUnix } from '../grpc/unix-unary.js';

/**
 * The warm-up invocation: the function's `sample-input.json` (or `{}`), sent by the worker itself
 * before a snapshot is taken and in REAP's record phase. The worker never sees routed invocations,
 * so no user request waits on this bookkeeping; the price is that the working set is that of the
 * warm-up event.
 *
 * A gRPC function (`protocol: grpc`) speaks h2c, not the shim's `POST /invoke`. Its warm-up is the
 * call in the folder's `sample-input.grpc.json` (`{"method": "/pkg.Service/Method", "message":
 * "<base64 of one serialized request>"}`), or else the standard health check,
 * `grpc.health.v1.Health/Check` with an empty request. A server that does not implement the health
 * service (vSwarm's do not) answers UNIMPLEMENTED, which is a whole gRPC round trip still (HTTP/2,
 * the server's dispatch, its status path), so any grpc-status counts as warm; only a broken or
 * silent connection fails. For REAP the sample call matters: the working set recorded from a
 * health check misses the method's own pages (vSwarm's fibonacci: a misprediction on every prefetch).
 */

export const GRPC_WARM_UP_METHOD = '/grpc.health.v1.Health/Check';
export const GRPC_SAMPLE_FILE = 'sample-input.grpc.json';
const GRPC_UNIMPLEMENTED = 12;

/** The gRPC warm-up call: the folder's sample call, or the health check. */
export async function grpcWarmUpCall(functionDir: string): Promise<{ method: string; message: Buffer }> {
  const text = await readFile(join(functionDir, GRPC_SAMPLE_FILE), 'utf8').catch(() => null);
  if (text === null) return { method: GRPC_WARM_UP_METHOD, message: Buffer.alloc(0) };
  const sample = JSON.parse(text) as { method?: unknown; message?: unknown };
  if (typeof sample.method !== 'string' || !/^\/[\w.]+\/\w+$/.test(sample.method) || (sample.message !== undefined && typeof sample.message !== 'string')) {
    throw new Error(`${GRPC_SAMPLE_FILE}: wants {"method": "/pkg.Service/Method", "message": "<base64>"}`);
  }
  return { method: sample.method, message: Buffer.from(sample.message ?? '', 'base64') };
}

export async function warmUpEvent(functionDir: string): Promise<Buffer> {
  return readFile(join(functionDir, 'sample-input.json')).catch(() => Buffer.from('{}'));
}

/** Invokes the warm-up event; a failing handler still warmed the runtime up, so that is only logged. */
export async function invokeWarmUp(
  spec: InstanceSpec,
  socketPath: string,
  log: (level: 'warn', msg: string) => void,
  timeoutMs = Math.max(spec.manifest.timeoutMs, 10_000),
): Promise<void> {
  if (spec.manifest.protocol === 'grpc') {
    const { method, message } = await grpcWarmUpCall(spec.functionDir);
    const r = await grpcUnaryOverUnix(socketPath, method, message, timeoutMs);
    if (r.grpcStatus !== 0 && !(r.grpcStatus === GRPC_UNIMPLEMENTED && method === GRPC_WARM_UP_METHOD)) {
      log('warn', `${spec.manifest.name}: warm-up call ${method} answered grpc-status ${r.grpcStatus}: ${r.grpcMessage.slice(0, 200)}`);
    }
    return;
  }
  const r = await unixRequest(socketPath, 'POST', '/invoke', await warmUpEvent(spec.functionDir), timeoutMs);
  if (r.status !== 200) log('warn', `${spec.manifest.name}: warm-up invocation answered ${r.status}: ${r.body.toString('utf8').slice(0, 200)}`);
}
