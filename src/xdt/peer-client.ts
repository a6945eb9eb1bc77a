/**
 * The consumer side of the XDT data plane: pulls an object from a producer worker's peer server over
 * HTTP/2, one long-lived session per producer worker, one stream per pull. Failures become typed
 * errors: an unreachable producer is XdtProducerGone, a refusal carries the producer's error type, a
 * pull that stops making progress for `idleTimeoutMs` is TransferAborted (never a hang).
 */
import http2 from 'node:http2';
import type { Readable } from 'node:stream';
import { TransferError, transferErrorFromBody } from '../transfer/errors.js';
import { PULL_PATH, REF_HEADER } from './peer-server.js';
import { XDT_HTTP2_OPTIONS, widenSessionWindow } from './http2-settings.js';

export interface PulledObject {
  contentType: string;
  size: number;
  /** the object's bytes, as they arrive (cut-through) */
  body: Readable;
}

export class XdtPeerClient {
  private sessions = new Map<string, http2.ClientHttp2Session>();
  private readonly idleTimeoutMs: number;

  constructor(opts: { idleTimeoutMs?: number } = {}) {
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 120_000;
  }

  private session(address: string): http2.ClientHttp2Session {
    const existing = this.sessions.get(address);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const s = http2.connect(`http://${address}`, XDT_HTTP2_OPTIONS);
    s.on('connect', () => widenSessionWindow(s));
    s.on('error', () => {});
    // one listener per pull in flight: scatter/gather legitimately run dozens at once
    s.setMaxListeners(0);
    const forget = () => {
      if (this.sessions.get(address) === s) this.sessions.delete(address);
    };
    s.on('close', forget);
    s.on('goaway', forget);
    s.unref();
    this.sessions.set(address, s);
    return s;
  }

  pull(address: string, ref: string): Promise<PulledObject> {
    return new Promise<PulledObject>((resolve, reject) => {
      const session = this.session(address);
      let settled = false;
      const fail = (err: TransferError) => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      const onSessionError = (err: NodeJS.ErrnoException) =>
        fail(new TransferError('XdtProducerGone', `producer worker at ${address} unreachable: ${err.code ?? err.message}`));
      session.once('error', onSessionError);
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request({ ':method': 'GET', ':path': PULL_PATH, [REF_HEADER]: ref }, { endStream: true });
      } catch (err) {
        onSessionError(err as NodeJS.ErrnoException);
        return;
      }
      stream.setTimeout(this.idleTimeoutMs, () => {
        const err = new TransferError('TransferAborted', `no progress from producer at ${address} for ${this.idleTimeoutMs} ms`);
        fail(err);
        stream.destroy(err);
      });
      stream.on('error', (err: NodeJS.ErrnoException) => {
        fail(
          err instanceof TransferError
            ? err
            : new TransferError(
                session.destroyed ? 'XdtProducerGone' : 'TransferAborted',
                `pull from ${address} failed: ${err.code ?? ''} ${err.message} (rst ${stream.rstCode ?? '-'})`,
              ),
        );
      });
      stream.on('close', () => {
        session.off('error', onSessionError);
        fail(new TransferError('XdtProducerGone', `producer at ${address} closed the pull before answering`));
      });
      stream.on('response', (headers) => {
        const status = Number(headers[':status']);
        if (status === 200) {
          settled = true;
          session.off('error', onSessionError);
          resolve({
            contentType: String(headers['content-type'] ?? 'application/octet-stream'),
            size: Number(headers['content-length'] ?? 0),
            body: stream,
          });
          return;
        }
        const parts: Buffer[] = [];
        stream.on('data', (c: Buffer) => parts.push(c));
        stream.on('end', () => fail(transferErrorFromBody(Buffer.concat(parts).toString('utf8'), `producer answered ${status}`)));
      });
    });
  }

  close(): void {
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }
}
