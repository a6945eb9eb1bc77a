/**
 * Large uploads (put, invoke with an object) are offered instead of pushed: the SDK listens on a
 * one-shot Unix socket next to the sidecar's (the instance's run folder, the one folder both sides
 * see), names it in the request, and writes the object to whoever connects: the sidecar, which reads
 * it straight into its XDT pool buffers (src/xdt/sidecar/offered-upload.ts explains why that matters).
 *
 * Loaded next to sdk.ts inside the sandbox: node: builtins only.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';

/** Below this, a pushed body costs no more than the extra socket an offer needs (bench/xdt-hops.mjs: even at 1 MB). */
export const OFFER_MIN_BYTES = 2 * 1024 * 1024;

export interface UploadOffer {
  /** the socket's name in the run folder (`x-hivelab-upload`) */
  name: string;
  /** withdraws the offer if nobody took it; libuv unlinks the socket file as the server closes */
  close(): void;
}

/** Listens for the sidecar; rejects when the run folder takes no socket (the caller pushes instead). */
export function offerUpload(sidecarPath: string, body: Buffer): Promise<UploadOffer> {
  const name = `up-${randomBytes(12).toString('hex')}.sock`;
  let open = true;
  const server = net.createServer((sock) => {
    close(); // one taker
    sock.on('error', () => {}); // the sidecar stops reading an object it refused: its answer says why
    sock.end(body);
  });
  const close = () => {
    if (open) server.close();
    open = false;
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(join(dirname(sidecarPath), name), () => resolve({ name, close }));
  });
}
