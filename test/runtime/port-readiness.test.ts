import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { probeCommandReady } from '../../src/snapshot/invoke.js';
import { buildRuntime, makeTempDir, removeDir } from '../sandbox/helpers.js';

/**
 * The port bridge's readiness probe (src/runtime/port/readiness.cts), with the real bridge and real
 * programs (no sandbox: the probe is the bridge's and its program's business). Each program counts
 * its connections: the bridge's own start-up check is the first, the probe's the second — as in a
 * restored clone, where the probe's is the first the program sees since the restore.
 */

let work: string;
let bridge: string;
const running: ChildProcess[] = [];

beforeAll(() => {
  work = makeTempDir('port-readiness');
  bridge = join(buildRuntime(join(work, 'dist'), 'src/runtime/port/bridge.cts'), 'port', 'bridge.cjs');
}, 120_000);
afterEach(async () => {
  // the bridge and its program (a process group of their own): a bridge killed alone would leave
  // its program behind, reparented to init
  for (const p of running.splice(0)) {
    const exited = p.exitCode === null && p.signalCode === null ? once(p, 'exit') : undefined;
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
    await exited;
  }
});
afterAll(() => removeDir(work));

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  return port;
}

async function firstLine(stream: Readable, timeoutMs: number): Promise<string> {
  let text = '';
  const until = Date.now() + timeoutMs;
  for await (const chunk of stream) {
    text += String(chunk);
    if (text.includes('\n')) return text.slice(0, text.indexOf('\n'));
    if (Date.now() > until) break;
  }
  throw new Error(`no line within ${timeoutMs} ms: ${JSON.stringify(text)}`);
}

/** The bridge running `python3 -c <program>`, once it serves its socket (its readiness pipe said so). */
async function startBridge(program: string): Promise<{ socket: string; port: number; proc: ChildProcess; stdout: Readable }> {
  const socket = join(work, `fn-${running.length}-${Date.now()}.sock`);
  const port = await freePort();
  const proc = spawn(process.execPath, [bridge], {
    env: { PATH: process.env.PATH, PORT: String(port), HIVELAB_SOCKET: socket, HIVELAB_READY_FD: '3', HIVELAB_COMMAND: JSON.stringify(['/usr/bin/python3', '-u', '-c', program]) },
    stdio: ['ignore', 'pipe', 'inherit', 'pipe'],
    detached: true,
  });
  running.push(proc);
  expect(await firstLine(proc.stdio[3] as Readable, 10_000)).toBe('ready');
  return { socket, port, proc, stdout: proc.stdout! };
}

const SERVER = `
import os, socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"]))); s.listen(8)
n = 0
held = []
while True:
    c, _ = s.accept(); n += 1
`;

describe('the port bridge answers the readiness probe', () => {
  test('a server that closes an idle connection at its end: ready at once, and requests still pass through', async () => {
    const b = await startBridge(`
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("content-length", "2"); self.end_headers(); self.wfile.write(b"hi")
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`);
    const t0 = performance.now();
    await probeCommandReady(b.socket, 10_000);
    // the program's close ended the probe, not the bridge's grace for programs that keep the connection
    expect(performance.now() - t0).toBeLessThan(900);
    const status = await new Promise<number>((resolve, reject) => {
      request({ socketPath: b.socket, path: '/', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(200);
  });

  test('a program that dies on the probe\'s connection: not ready, and the bridge exits with its code', async () => {
    const b = await startBridge(`${SERVER}
    if n == 2:
        os._exit(3)
    c.close()
`);
    const exited = once(b.proc, 'exit');
    await expect(probeCommandReady(b.socket, 10_000)).rejects.toThrow(/the program/);
    expect((await exited)[0]).toBe(3);
  });

  test('a program that runs on but no longer listens: not ready, its port refused', async () => {
    const b = await startBridge(`${SERVER}
    c.close(); s.close(); print("closed", flush=True)
    while True: time.sleep(60)
`);
    expect(await firstLine(b.stdout, 10_000)).toBe('closed');
    await expect(probeCommandReady(b.socket, 10_000)).rejects.toThrow(new RegExp(`not ready: the program's port ${b.port} refused a connection: .*ECONNREFUSED`));
    expect(b.proc.exitCode).toBeNull();
  });

  test('a program that keeps a half-closed connection open: judged alive after the grace', async () => {
    const b = await startBridge(`${SERVER}
    held.append(c)
`);
    const t0 = performance.now();
    await probeCommandReady(b.socket, 10_000);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(900);
  });
});
