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
 * A gRPC function (`protocol: grpc`) speaks h2c, not the shim's `POST /invoke`: its warm-up is the
 * standard health check, `grpc.health.v1.Health/Check` with an empty request (any service). A
 * server that does not implement it (vSwarm's examples do not) answers UNIMPLEMENTED, which is a
 * whole gRPC round trip still: HTTP/2, the server's dispatch, its status path. So any grpc-status
 * counts as warm; only a broken or silent connection fails.
 */

export const GRPC_WARM_UP_METHOD = '/grpc.health.v1.Health/Check';
const GRPC_UNIMPLEMENTED = 12;

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
    const r = await grpcUnaryOverUnix(socketPath, GRPC_WARM_UP_METHOD, Buffer.alloc(0), timeoutMs);
    if (r.grpcStatus !== 0 && r.grpcStatus !== GRPC_UNIMPLEMENTED) log('warn', `${spec.manifest.name}: warm-up health check answered grpc-status ${r.grpcStatus}: ${r.grpcMessage.slice(0, 200)}`);
    return;
  }
  const r = await unixRequest(socketPath, 'POST', '/invoke', await warmUpEvent(spec.functionDir), timeoutMs);
  if (r.status !== 200) log('warn', `${spec.manifest.name}: warm-up invocation answered ${r.status}: ${r.body.toString('utf8').slice(0, 200)}`);
}
