/**
 * An object on its way from the SDK into the sidecar, whichever way it comes: pushed as the request
 * body (`PushedUpload`, below) or offered on a socket of the SDK's for the sidecar to read
 * (`OfferedUpload`, offered-upload.ts).
 */
import type http from 'node:http';
import { PassThrough } from 'node:stream';
import { TransferError } from '../../transfer/errors.js';
import { normalizeContentType } from '../../transfer/object-stream.js';
import { OfferedUpload } from './offered-upload.js';
import type { SdkUpload } from './sdk-upload.js';

export type { SdkUpload };


/**
 * A pushed upload. `body` is a stream we may stop reading (or a transport may destroy) without
 * destroying the connection we answer on: a PassThrough, made only when asked for. XDT ingest listens
 * to the request itself (`source`) and skips that hop.
 */
class PushedUpload implements SdkUpload {
  readonly size: number;
  readonly contentType: string;
  readonly source: http.IncomingMessage;
  private piped: PassThrough | undefined;

  constructor(private readonly req: http.IncomingMessage) {
    const len = req.headers['content-length'];
    this.size = len === undefined ? -1 : Number(len);
    this.contentType = normalizeContentType(req.headers['content-type']);
    this.source = req;
  }

  get body(): PassThrough {
    if (this.piped) return this.piped;
    const body = (this.piped = new PassThrough({ highWaterMark: 1 << 20 }));
    this.req.pipe(body);
    // a producer that disconnects mid-upload must fail its object, not leave it waiting for bytes forever
    this.req.on('close', () => {
      if (!this.req.complete && !body.destroyed) body.destroy(new TransferError('XdtProducerGone', 'the producer disconnected during its upload'));
    });
    return body;
  }

  get consumed(): boolean {
    return this.piped ? this.piped.readableEnded : this.req.complete;
  }

  discard(): void {
    if (this.piped) {
      this.req.unpipe(this.piped);
      this.piped.destroy();
    }
    this.req.resume();
  }

  settle(): Promise<void> {
    const req = this.req;
    if (req.complete || req.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      req.once('end', resolve);
      req.once('close', resolve);
      this.discard();
    });
  }
}

/** The upload of a put or invoke request; throws a TransferError for a malformed offer. */
export function uploadOf(req: http.IncomingMessage, dirs: { runDir: string; uploadDir: string }): SdkUpload {
  const offer = req.headers['x-hivelab-upload'];
  if (offer === undefined) return new PushedUpload(req);
  return OfferedUpload.fromRequest(req, offer, dirs);
}
