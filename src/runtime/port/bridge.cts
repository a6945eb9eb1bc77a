/**
 * The port bridge: the instance's main process for a function that is a server program (manifest
 * `command`, Knative's runtime contract). It runs the program with `PORT` set, waits until the
 * program accepts connections on 127.0.0.1:PORT (that is readiness, as for a Knative container),
 * then serves the platform's Unix socket by passing each connection's bytes through to that port
 * unchanged — HTTP/1.1, h2c/gRPC or anything else — except for the worker's readiness probe, which
 * the bridge answers itself (readiness.cts: a restored instance's program may not have survived).
 * The program's exit is the instance's exit: the bridge exits with it.
 *
 * Why a byte pipe and not a protocol-aware proxy: the queue-proxy already speaks the protocol on
 * the other side of the socket; here only the network namespace's wall has to be crossed (the
 * program listens on the sandbox's loopback, which the host cannot reach). node: builtins only.
 */
import { spawn } from 'node:child_process';
import { closeSync, rmSync, writeSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { answerProbe, isProbeRequest } from './readiness.cjs';

const env = process.env;
const socketPath = env.HIVELAB_SOCKET ?? '/run/hivelab/fn.sock';
const port = Number(env.PORT ?? 8080);
const readyFd = env.HIVELAB_READY_FD === undefined ? undefined : Number(env.HIVELAB_READY_FD);
let argv: string[];
try {
  argv = JSON.parse(env.HIVELAB_COMMAND ?? '') as string[];
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) throw new Error('not a non-empty string array');
} catch (err) {
  process.stderr.write(`hivelab port bridge: HIVELAB_COMMAND is not a JSON argv: ${(err as Error).message}\n`);
  process.exit(70);
}

// The program sees neither the bridge's variables nor the platform's socket paths: without
// HIVELAB_SOCKET a Hivelab handler image (`hivelab build`) run as a program serves $PORT as
// Knative's contract says, instead of binding the bridge's own socket. An image function's program
// gets exactly the environment the worker computed for it (the image's Env included), which never
// applies to this bridge itself.
let childEnv: Record<string, string> = {};
if (env.HIVELAB_PROGRAM_ENV !== undefined) {
  try {
    childEnv = JSON.parse(env.HIVELAB_PROGRAM_ENV) as Record<string, string>;
  } catch (err) {
    process.stderr.write(`hivelab port bridge: HIVELAB_PROGRAM_ENV is not JSON: ${(err as Error).message}\n`);
    process.exit(70);
  }
} else {
  for (const [k, v] of Object.entries(env)) if (v !== undefined && k !== 'HIVELAB_COMMAND' && k !== 'HIVELAB_READY_FD' && k !== 'HIVELAB_SOCKET') childEnv[k] = v;
}

const child = spawn(argv[0]!, argv.slice(1), { env: childEnv, stdio: ['ignore', 'inherit', 'inherit'] });
child.once('error', (err) => {
  process.stderr.write(`hivelab port bridge: cannot start ${JSON.stringify(argv[0])}: ${err.message}\n`);
  process.exit(71);
});
child.once('exit', (code, signal) => {
  process.stderr.write(`hivelab port bridge: the program exited (${signal ?? `code ${code}`})\n`);
  process.exit(code ?? 128 + 9);
});
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => child.kill(sig));

/** One attempt to reach the program: resolves true once it accepts a connection. */
function accepts(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * One connection from the platform: the worker's readiness probe (readiness.cts) or bytes for the
 * program. Its connection to the program's port is opened at once (no round trip added to a
 * request); the client's first bytes say which it is, so a refused connect, and anything the
 * program says first, wait for them (the platform's clients, HTTP/1.1 and h2c, speak first).
 */
function serve(client: Socket): void {
  const upstream = connect({ port, host: '127.0.0.1' });
  upstream.setNoDelay(true);
  let refused: Error | undefined;
  const early = (err: Error) => (refused = err);
  upstream.once('error', early);
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  client.once('error', end);
  client.once('close', end);
  client.once('data', (first: Buffer) => {
    upstream.off('error', early);
    if (isProbeRequest(first)) return answerProbe(client, upstream, refused, child, port);
    if (refused || upstream.destroyed) return end();
    upstream.once('error', end);
    upstream.once('close', end);
    upstream.write(first);
    client.pipe(upstream);
    upstream.pipe(client);
  });
}

async function main(): Promise<void> {
  // Poll briskly: this loop is part of every cold start. The start timeout is the worker's.
  let delay = 2;
  while (!(await accepts())) {
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
  rmSync(socketPath, { force: true });
  const server = createServer({ noDelay: true }, serve);
  server.listen(socketPath, () => {
    if (readyFd !== undefined) {
      try {
        writeSync(readyFd, 'ready\n');
        closeSync(readyFd);
      } catch {
        // started without a readiness pipe (a test or a stand-alone run)
      }
    }
  });
}

void main();
