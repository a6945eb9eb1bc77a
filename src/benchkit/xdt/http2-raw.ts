/**
 * The ceiling XDT is judged against: one bare node:http2 stream of N bytes from another process on
 * loopback (the bench worker process serving a prepared buffer), with the XDT data plane's settings,
 * so the comparison is with the best plain HTTP/2 stream rather than a handicapped one.
 */
import { fork, type ChildProcess } from 'node:child_process';
import http2 from 'node:http2';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XDT_HTTP2_OPTIONS, widenSessionWindow } from '../../xdt/http2-settings.js';

export interface RawStreamSource {
  /** one stream of `size` bytes, resolved with the byte count when the last byte arrived */
  pull(size: number): Promise<number>;
  close(): Promise<void>;
}

export async function startRawStreamSource(): Promise<RawStreamSource> {
  // next to this module when built; from the build when this module runs from source (vitest)
  const built = fileURLToPath(new URL('./worker-process.js', import.meta.url));
  const entry = existsSync(built) ? built : resolve(import.meta.dirname, '../../../dist/benchkit/xdt/worker-process.js');
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const child: ChildProcess = fork(entry, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const address = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { ok: boolean; result?: { address: string }; error?: string }) => (m.ok ? resolve(m.result!.address) : reject(new Error(m.error))));
    child.once('exit', (code) => reject(new Error(`raw stream source exited (${code})`)));
    child.send({ id: 1, cmd: 'raw-server' });
  });
  const session = http2.connect(`http://${address}`, XDT_HTTP2_OPTIONS);
  session.on('connect', () => widenSessionWindow(session));
  session.on('error', () => {});
  return {
    pull: (size) =>
      new Promise((resolve, reject) => {
        const s = session.request({ ':path': `/raw?size=${size}` });
        let n = 0;
        s.on('data', (c: Buffer) => (n += c.length));
        s.on('end', () => resolve(n));
        s.on('error', reject);
      }),
    async close() {
      session.destroy();
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    },
  };
}
