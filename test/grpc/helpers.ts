import { cp } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { FIXTURES } from '../platform/harness.js';
import { scratchDir } from '../helpers/scratch.js';

export const PROTOS = resolve(import.meta.dirname, '../../protos/vswarm/proto');

/**
 * A function folder made of a fixture plus the vSwarm protos it uses (an instance sees only its folder).
 * A scratch folder: made in a beforeAll, it is removed after the file's last afterAll has stopped the platform.
 */
export async function grpcFunctionDir(fixture: string, protos: string[], from = FIXTURES): Promise<string> {
  const dir = join(await scratchDir('hivelab-grpc-fn-'), fixture);
  await cp(join(from, fixture), dir, { recursive: true });
  await cp(join(PROTOS, '__init__.py'), join(dir, 'proto/__init__.py'));
  for (const p of protos) await cp(join(PROTOS, p), join(dir, 'proto', p), { recursive: true });
  return dir;
}

export interface CallResult {
  err?: grpc.ServiceError;
  reply?: { message: string };
  headers: Record<string, string>;
}

const defs = new Map<string, grpc.GrpcObject>();
export function protoPackage(name: string): grpc.GrpcObject {
  let pkg = defs.get(name);
  if (!pkg) {
    pkg = grpc.loadPackageDefinition(loader.loadSync(join(PROTOS, name, `${name}.proto`), { keepCase: true }))[name] as grpc.GrpcObject;
    defs.set(name, pkg);
  }
  return pkg;
}

/** A stock grpc-js client: dials `target`, names the service by `authority` (Knative's host form). */
export function greeterClient(target: string, authority: string, pkg = 'helloworld', service = 'Greeter'): grpc.Client {
  const Ctor = protoPackage(pkg)[service] as grpc.ServiceClientConstructor;
  return new Ctor(target, grpc.credentials.createInsecure(), { 'grpc.default_authority': authority });
}

/** One unary call; never rejects, so tests can look at statuses. */
export function unary(client: grpc.Client, method: string, request: object, metadata: Record<string, string>, deadlineMs = 150_000): Promise<CallResult> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolvePromise) => {
    const headers: Record<string, string> = {};
    const call = (client as unknown as Record<string, Function>)[method]!.call(
      client,
      request,
      md,
      { deadline: Date.now() + deadlineMs },
      (err: grpc.ServiceError | null, reply: { message: string }) => resolvePromise(err ? { err, headers } : { reply, headers }),
    ) as grpc.ClientUnaryCall;
    call.on('metadata', (m: grpc.Metadata) => {
      for (const [k, v] of Object.entries(m.getMap())) headers[k] = String(v);
    });
  });
}
