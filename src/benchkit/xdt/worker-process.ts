/**
 * A stand-alone "worker" for xdt-bench: one process with its own TransferServices (buffer pool,
 * object store, HTTP/2 peer server) and the sidecars the driver asks for, so a benchmark's producer
 * and consumer sides really are different processes talking over loopback. Also serves the
 * http2-raw ceiling: a bare node:http2 stream of N bytes, same settings as the XDT data plane.
 * Driven over the IPC channel: {id, cmd, ...} → {id, ok, result|error}.
 */
import http2 from 'node:http2';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createTransferServices, type TransferServices } from '../../xdt/services.js';
import { startSidecar, type Sidecar } from '../../xdt/sidecar/index.js';
import { XDT_HTTP2_OPTIONS, widenSessionWindow } from '../../xdt/http2-settings.js';

interface StartMsg {
  stateDir: string;
  runDir: string;
  sealKey: string;
  gatewayUrl: string;
  invokeToken: string;
  s3?: { endpoint: string; bucket: string; region?: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  redis?: { host: string; port: number; password?: string };
  pool: { buffers: number; bufferBytes: number };
  streamWindow?: number;
}

let ts: TransferServices | undefined;
let cfg: StartMsg | undefined;
const sidecars = new Map<string, Sidecar>();
let raw: http2.Http2Server | undefined;

async function handle(msg: { cmd: string; [k: string]: unknown }): Promise<unknown> {
  switch (msg.cmd) {
    case 'start': {
      cfg = msg as unknown as StartMsg;
      ts = await createTransferServices({
        stateDir: cfg.stateDir,
        sealKey: Buffer.from(cfg.sealKey, 'base64'),
        s3: cfg.s3,
        redis: cfg.redis,
        pool: cfg.pool,
        streamWindow: cfg.streamWindow,
        inlineLimitBytes: 6 * 1024 * 1024,
      });
      return { peer: ts.peer.address };
    }
    case 'sidecar': {
      const instanceId = String(msg.instanceId);
      const socketPath = path.join(cfg!.runDir, `${instanceId}.sock`);
      sidecars.set(
        instanceId,
        await startSidecar({ socketPath, instanceId, functionName: String(msg.functionName), gatewayUrl: cfg!.gatewayUrl, invokeToken: cfg!.invokeToken, transfers: ts!, uploadDir: path.join(cfg!.runDir, '.uploads') }),
      );
      return { socketPath };
    }
    case 'raw-server': {
      // the ceiling: a bare HTTP/2 stream from a prepared buffer, nothing else in the way
      const block = Buffer.alloc(1024 * 1024, 7);
      raw = http2.createServer(XDT_HTTP2_OPTIONS);
      raw.on('session', (s) => widenSessionWindow(s));
      raw.on('stream', (stream, headers) => {
        const size = Number(new URL(String(headers[':path']), 'http://x').searchParams.get('size'));
        stream.respond({ ':status': 200, 'content-length': String(size) });
        let left = size;
        const pump = () => {
          while (left > 0) {
            const n = Math.min(left, block.length);
            left -= n;
            if (!stream.write(block.subarray(0, n))) return void stream.once('drain', pump);
          }
          stream.end();
        };
        pump();
      });
      await new Promise<void>((r) => raw!.listen(0, '127.0.0.1', () => r()));
      return { address: `127.0.0.1:${(raw.address() as AddressInfo).port}` };
    }
    case 'stats':
      return { peakBytes: ts!.pool.peakBytes, inUse: ts!.pool.inUseBuffers, capacity: ts!.pool.capacityBytes };
    case 'stop': {
      for (const s of sidecars.values()) await s.close();
      await ts?.close();
      raw?.close();
      setImmediate(() => process.exit(0));
      return {};
    }
    default:
      throw new Error(`unknown command ${msg.cmd}`);
  }
}

process.on('message', (msg: { id: number; cmd: string }) => {
  handle(msg).then(
    (result) => process.send!({ id: msg.id, ok: true, result }),
    (err: Error) => process.send!({ id: msg.id, ok: false, error: `${err.name}: ${err.message}` }),
  );
});
process.on('disconnect', () => process.exit(0));
