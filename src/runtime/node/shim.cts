/**
 * The Node runtime shim: runs inside the sandbox as the instance's main process, loads the user
 * handler once and serves the runtime shim protocol (docs/CONTRACTS.md) over HTTP/1.1 on a Unix
 * socket. Kept to node: builtins only, because every millisecond here is cold-start time; and a
 * CommonJS module (.cts → .cjs) because an ES-module entry point brings up Node's asynchronous ESM
 * loader, a few milliseconds that a CommonJS handler would otherwise never pay.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeSync, rmSync, writeSync } from 'node:fs';
import { installReseedableRandom, reseedAll, wrapCryptoIfLoaded } from './reseed.cjs';
import { HandlerLoadError, loadHandler, type Handler } from './handler-loader.cjs';
import { decodeClientContext, lambdaStatic } from './lambda-context.cjs';
import { runLambdaStyle, type AnyHandler } from './lambda-callback.cjs';

// Before anything else (and before the handler module runs), so no generator escapes reseeding.
installReseedableRandom();

const env = process.env;
const socketPath = env.HIVELAB_SOCKET ?? '/run/hivelab/fn.sock';
// Knative's runtime contract (an image made by `hivelab build`, docs/BUILD.md): with PORT set and no
// platform socket, serve HTTP/1.1 on every interface at PORT and take `POST /` as an invocation.
const knativePort = env.HIVELAB_SOCKET === undefined && env.PORT !== undefined ? Number(env.PORT) : undefined;
if (knativePort !== undefined && !(Number.isInteger(knativePort) && knativePort > 0 && knativePort < 65536)) {
  process.stderr.write(`hivelab node shim: PORT ${JSON.stringify(env.PORT)} is not a TCP port number\n`);
  process.exit(64);
}
const taskRoot = env.HIVELAB_TASK_ROOT ?? '/var/task';
const handlerSpec = env.HIVELAB_HANDLER ?? 'index.handler';
const functionName = env.HIVELAB_FUNCTION ?? '';
// `let`: a restored clone adopts its own id in POST /_hivelab/restored.
let instanceId = env.HIVELAB_INSTANCE ?? '';
const memoryLimitMB = Number(env.HIVELAB_MEMORY_MB ?? 0);
const timeoutMs = Number(env.HIVELAB_TIMEOUT_MS ?? 30_000);
const lambda = lambdaStatic(env);

type SdkModule = typeof import('./sdk.js');
let sdkModule: SdkModule | undefined;
let sdkLoading: Promise<SdkModule> | undefined;

/** The SDK is loaded after readiness, off the cold-start path; an early invocation waits for it. */
function loadSdk(): Promise<SdkModule> {
  sdkLoading ??= import('./sdk.js').then((m) => (sdkModule = m));
  return sdkLoading;
}

function sdkUnavailable() {
  const fail = async (): Promise<never> => {
    throw new Error('SDK not available: /opt/hivelab/runtime/node/sdk.js failed to load (see the instance log)');
  };
  return { invoke: fail, put: fail, get: fail };
}

interface ErrorBody {
  error: { type: string; message: string; stack: string };
}

function errorBody(err: unknown): ErrorBody {
  if (err instanceof Error) {
    return { error: { type: err.name || err.constructor?.name || 'Error', message: err.message, stack: err.stack ?? '' } };
  }
  return { error: { type: typeof err, message: String(err), stack: '' } };
}

/**
 * Errors no invocation caught (a callback handler throwing from a timer, a rejected promise nobody
 * awaited, a throw after the answer went out). They must neither kill the instance unseen nor
 * vanish: each is written to the instance log, counted (GET /healthz, and the
 * x-hivelab-uncaught-errors header on every later answer), and fails the invocations in flight at
 * that moment — with one request per instance (the default) that is exactly the one that broke.
 * The instance keeps serving.
 */
let uncaughtErrors = 0;
const inFlight = new Set<(err: unknown) => void>();
function onUncaught(kind: string, err: unknown): void {
  uncaughtErrors++;
  const e = err as Error;
  process.stderr.write(`hivelab node shim: ${kind} (${inFlight.size ? `failing ${inFlight.size} invocation(s) in flight` : 'no invocation in flight: after its answer'}; the instance keeps serving): ${e?.stack ?? String(err)}\n`);
  for (const fail of [...inFlight]) fail(err);
}
process.on('uncaughtException', (err) => onUncaught('uncaught exception', err));
process.on('unhandledRejection', (reason) => onUncaught('unhandled promise rejection', reason));

function send(res: ServerResponse, status: number, contentType: string, body: Buffer | string, extra?: Record<string, string>): void {
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  const counted = uncaughtErrors ? { 'x-hivelab-uncaught-errors': String(uncaughtErrors) } : undefined;
  res.writeHead(status, { 'content-type': contentType, 'content-length': payload.length, ...counted, ...extra });
  res.end(payload);
}

function sendError(res: ServerResponse, status: number, kind: string, err: unknown): void {
  send(res, status, 'application/json', JSON.stringify(errorBody(err)), { 'x-hivelab-error': kind });
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const mime = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return mime === 'application/json' || mime.endsWith('+json');
}

/** Encodes a handler's return value per the contract; throws (→ handler error) on unserialisable values. */
function encodeResult(value: unknown): [string, Buffer] {
  if (Buffer.isBuffer(value)) return ['application/octet-stream', value];
  if (value instanceof Uint8Array) return ['application/octet-stream', Buffer.from(value.buffer, value.byteOffset, value.byteLength)];
  if (value instanceof ArrayBuffer) return ['application/octet-stream', Buffer.from(value)];
  if (typeof value === 'string') return ['text/plain; charset=utf-8', Buffer.from(value)];
  return ['application/json', Buffer.from(JSON.stringify(value === undefined ? null : value) ?? 'null')];
}

async function invoke(handler: Handler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  let event: unknown;
  if (isJson(req.headers['content-type'])) {
    try {
      event = body.length === 0 ? null : JSON.parse(body.toString('utf8'));
    } catch (err) {
      sendError(res, 400, 'bad-request', err);
      return;
    }
  } else {
    event = body;
  }
  const invocationId = String(req.headers['x-hivelab-invocation-id'] ?? '');
  const traceparent = req.headers.traceparent as string | undefined;
  const deadlineHeader = Number(req.headers['x-hivelab-deadline']);
  const deadline = Number.isFinite(deadlineHeader) && deadlineHeader > 0 ? deadlineHeader : Date.now() + timeoutMs;
  const sdk = sdkModule ?? (await loadSdk().catch(() => undefined));
  const remaining = (): number => Math.max(0, deadline - Date.now());
  const cc = req.headers['x-amz-client-context'];
  // One literal (no spreads of the Lambda half): this object is built on every warm invocation.
  const context: Record<string, unknown> = {
    invocationId,
    functionName,
    instanceId,
    memoryLimitMB,
    getRemainingTimeMs: remaining,
    // AWS Lambda's context (lambda-context.cts): the same id and clock under Lambda's names.
    awsRequestId: invocationId,
    getRemainingTimeInMillis: remaining,
    functionVersion: lambda.functionVersion,
    memoryLimitInMB: lambda.memoryLimitInMB,
    invokedFunctionArn: lambda.invokedFunctionArn,
    logGroupName: lambda.logGroupName,
    logStreamName: lambda.logStreamName,
    identity: undefined,
    clientContext: cc === undefined ? undefined : decodeClientContext(cc as string),
    callbackWaitsForEmptyEventLoop: true,
    ...(sdk ? sdk.sdkFor({ invocationId, traceparent, functionName }) : sdkUnavailable()),
  };
  let contentType: string;
  let payload: Buffer;
  try {
    // An event passed by reference ({"$xdt": ref} / {"$ref": ref}) becomes the object itself; a
    // failed pull fails the invocation like a handler error (the caller sees the SDK's error type).
    const resolve = (sdk as { resolveEventRefs?: (e: unknown, inv: object) => Promise<unknown> } | undefined)?.resolveEventRefs;
    if (resolve && event !== null && typeof event === 'object' && !Buffer.isBuffer(event)) {
      event = await resolve(event, { invocationId, traceparent, functionName });
    }
    let failNow!: (err: unknown) => void;
    const outcome = new Promise<unknown>((resolve, reject) => {
      failNow = reject;
      runLambdaStyle(handler as AnyHandler, event, context).then(resolve, reject);
    });
    inFlight.add(failNow);
    try {
      [contentType, payload] = encodeResult(await outcome);
    } finally {
      inFlight.delete(failNow);
    }
  } catch (err) {
    sendError(res, 500, 'handler', err);
    return;
  }
  send(res, 200, contentType, payload);
}

async function restored(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let seed: Buffer;
  try {
    const parsed = JSON.parse((await readBody(req)).toString('utf8')) as { seed?: unknown; instanceId?: unknown; sidecar?: unknown };
    if (typeof parsed.seed !== 'string' || !/^(?:[0-9a-fA-F]{2}){16,}$/.test(parsed.seed)) {
      throw new Error('body must be {"seed": "<hex, at least 32 digits>"}');
    }
    seed = Buffer.from(parsed.seed, 'hex');
    // A restored clone keeps the snapshotted environment: adopt this clone's identity and sidecar
    // (the SDK reads HIVELAB_SIDECAR at call time).
    if (typeof parsed.instanceId === 'string' && parsed.instanceId) instanceId = env.HIVELAB_INSTANCE = parsed.instanceId;
    if (typeof parsed.sidecar === 'string' && parsed.sidecar) env.HIVELAB_SIDECAR = parsed.sidecar;
  } catch (err) {
    sendError(res, 400, 'bad-request', err);
    return;
  }
  reseedAll(seed);
  send(res, 200, 'application/json', '{"ok":true}');
}

async function main(): Promise<void> {
  let handler: Handler;
  try {
    handler = await loadHandler(taskRoot, handlerSpec);
  } catch (err) {
    const e = err as Error;
    process.stderr.write(`hivelab node shim: ${e instanceof HandlerLoadError ? e.message : (e.stack ?? e.message)}\n`);
    process.exit(1);
  }
  // HIVELAB_SNAPSHOT: the platform snapshots this instance after its warm-up (coldstart/lifecycle.ts)
  wrapCryptoIfLoaded(env.HIVELAB_SNAPSHOT === '1');

  const server = createServer((req, res) => {
    const route = `${req.method} ${req.url}`;
    let work: Promise<void>;
    if (route === 'POST /invoke' || route === 'POST /') work = invoke(handler, req, res);
    else if (route === 'GET /healthz') work = Promise.resolve(send(res, 200, 'text/plain', 'ok'));
    else if (route === 'GET /_hivelab/uncaught') work = Promise.resolve(send(res, 200, 'application/json', JSON.stringify({ uncaughtErrors })));
    else if (route === 'POST /_hivelab/restored') work = restored(req, res);
    else work = Promise.resolve(sendError(res, 404, 'not-found', new Error(`no route ${route}`)));
    work.catch((err) => {
      if (!res.headersSent) sendError(res, 500, 'shim', err);
      else res.destroy(err as Error);
    });
  });
  // The queue-proxy keeps connections open between invocations, and invocations may run up to the
  // function timeout: the shim itself must never time a request or an idle connection out.
  server.keepAliveTimeout = 0;
  server.requestTimeout = 0;
  server.headersTimeout = 0;

  if (knativePort === undefined) rmSync(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (knativePort === undefined) server.listen(socketPath, resolve);
    // No host: every interface, IPv6 and IPv4 where the container has both (Knative's contract).
    else server.listen(knativePort, resolve);
  });

  process.on('SIGTERM', () => {
    server.close();
    process.exit(0);
  });

  const readyFd = Number(env.HIVELAB_READY_FD);
  if (Number.isInteger(readyFd) && readyFd > 2) {
    writeSync(readyFd, 'ready\n');
    // Closed so a snapshot of this process holds no pipe to the host.
    closeSync(readyFd);
  }
  void loadSdk().catch((err: Error) => process.stderr.write(`hivelab node shim: SDK failed to load: ${err.message}\n`));
}

void main();
