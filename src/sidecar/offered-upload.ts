/**
 * An upload the SDK offers instead of pushing it (src/runtime/node/sdk-upload-offer.ts): the request
 * carries no body but names a one-shot socket the SDK listens on in the instance's run folder
 * (`x-hivelab-upload`) and the object's length (`x-hivelab-object-length`); the sidecar connects and
 * reads the object from it.
 *
 * Why: pushed through the HTTP server, a body arrives in fresh 64 KiB chunks that XDT then copies
 * into its pool buffers and leaves as garbage. A socket the sidecar opens itself can have the kernel
 * read straight into those buffers (`onread`), up to a whole buffer per read. For 100 MB that copy
 * and its garbage were most of the worker's CPU on a transfer (bench/xdt-hops.mjs).
 *
 * Why the descriptor: the run folder is writable from inside the sandbox, so the offered name could
 * be a symlink to some host socket, or be swapped for one between a check and the connect. The offer
 * is opened once with O_PATH|O_NOFOLLOW (a link opens as the link itself), checked through that
 * descriptor (a socket, not a link) and connected to through it (/proc/self/fd/N), so what was
 * checked is what is connected to. (It used to be renamed into a hidden folder first; the run
 * folder is now a tmpfs of its own, and a rename cannot leave a file system.)
 */
import net from 'node:net';
import type http from 'node:http';
import { closeSync, constants, fstatSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { TransferError } from '../transfer/errors.js';
import { normalizeContentType } from '../transfer/object-stream.js';
import type { ByteSource, ByteTarget } from '../xdt/xdt-object.js';
import type { SdkUpload } from './upload.js';

const OFFER_NAME = /^up-[0-9a-f]{24}\.sock$/;
/** Linux's O_PATH (not in fs.constants): a descriptor that names a file without opening it. */
const O_PATH = 0o10000000;
/** where bytes land when a read happens while no pool buffer is free (they are placed once one is) */
const HOLD_BYTES = 64 * 1024;

function gone(detail: string): TransferError {
  return new TransferError('XdtProducerGone', `the producer's offered upload ${detail}`);
}

export class OfferedUpload implements SdkUpload, ByteSource {
  private conn: net.Socket | undefined;
  private piped: PassThrough | undefined;
  private got = 0;
  private stopped = false;

  private constructor(
    private readonly offerPath: string,
    readonly size: number,
    readonly contentType: string,
  ) {}

  static fromRequest(req: http.IncomingMessage, offer: string | string[], dirs: { runDir: string; uploadDir: string }): OfferedUpload {
    const name = Array.isArray(offer) ? offer[0] : offer;
    if (name === undefined || !OFFER_NAME.test(name)) throw new TransferError('InvalidArgument', `malformed upload offer ${JSON.stringify(name)}`);
    const size = Number(req.headers['x-hivelab-object-length']);
    if (!Number.isSafeInteger(size) || size < 0) throw new TransferError('InvalidArgument', 'an offered upload needs x-hivelab-object-length (a byte count)');
    return new OfferedUpload(join(dirs.runDir, name), size, normalizeContentType(req.headers['content-type']));
  }

  get offered(): ByteSource {
    return this;
  }

  get consumed(): boolean {
    return this.got === this.size;
  }

  discard(): void {
    this.stop();
  }

  settle(): Promise<void> {
    this.stop();
    return Promise.resolve();
  }

  stop(): void {
    this.stopped = true;
    // synchronous: the socket's handle closes now, so no later read can land in a buffer we lent it
    this.conn?.destroy();
    if (this.piped && !this.piped.writableEnded) this.piped.destroy(new TransferError('TransferAborted', 'the upload was dropped'));
  }

  /** For transports that read a stream (inline, storage, redis). */
  get body(): PassThrough {
    if (this.piped) return this.piped;
    const out = (this.piped = new PassThrough({ highWaterMark: 1 << 20 }));
    if (this.size === 0) {
      out.end();
      return out;
    }
    this.connect().then((conn) => {
      conn.on('data', (c: Buffer) => {
        this.got += c.length;
        if (this.got > this.size) out.destroy(new TransferError('InvalidArgument', `object is longer than its declared ${this.size} B`));
      });
      // the end of the stream is ours to call: a connection closed short of the length is an error
      conn.on('close', () => (this.got === this.size ? out.end() : out.destroy(gone(`ended after ${this.got} of ${this.size} B`))));
      conn.pipe(out, { end: false });
    }, (err: Error) => out.destroy(err));
    return out;
  }

  /** For XDT: reads straight into the object's pool buffers, pausing while none is free. */
  readInto(target: ByteTarget): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const hold = Buffer.allocUnsafeSlow(Math.min(HOLD_BYTES, this.size));
      let holding = false;
      let held: Buffer | undefined;
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        this.conn?.destroy();
        if (err) reject(err);
        else resolve();
      };
      const waitForRoom = (): false => {
        target.room().then(() => advance() && this.conn?.resume(), finish);
        return false;
      };
      /** Places held bytes, then says whether reading may go on (false: done, or paused until there is room). */
      const advance = (): boolean => {
        while (held) {
          const to = target.space();
          if (!to) return waitForRoom();
          const n = held.copy(to);
          target.wrote(n);
          held = n < held.length ? held.subarray(n) : undefined;
        }
        if (this.got === this.size) {
          finish();
          return false;
        }
        return target.space() ? true : waitForRoom();
      };
      const onread = {
        buffer: (): Buffer => {
          const to = settled ? undefined : target.space();
          holding = !to;
          return to ?? hold.subarray(0, Math.max(1, Math.min(hold.length, this.size - this.got)));
        },
        callback: (n: number): boolean => {
          if (settled) return false;
          this.got += n;
          if (holding) held = hold.subarray(0, n);
          else target.wrote(n);
          return advance();
        },
      };
      this.connect(onread, () => finish(gone(`ended after ${this.got} of ${this.size} B`))).catch(finish);
    });
  }

  /**
   * Claims the offer and connects to it; `onClose` is listening before the first byte can arrive.
   * The file calls are synchronous on purpose: three metadata calls on a local folder take
   * microseconds, a trip through libuv's thread pool each took longer than copying 1 MB.
   */
  private async connect(onread?: net.OnReadOpts, onClose?: () => void): Promise<net.Socket> {
    let fd: number;
    try {
      fd = openSync(this.offerPath, O_PATH | constants.O_NOFOLLOW);
    } catch (err) {
      throw gone(`is not there (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    try {
      if (!fstatSync(fd).isSocket()) throw new TransferError('InvalidArgument', 'the upload offer is not a socket');
      if (this.stopped) throw new TransferError('TransferAborted', 'the upload was dropped');
      const path = `/proc/self/fd/${fd}`;
      const conn = (this.conn = onread ? net.connect({ path, onread }) : net.connect({ path }));
      await new Promise<void>((resolve, reject) => {
        conn.once('connect', resolve);
        conn.once('error', (err) => reject(gone(`refused the connection (${err.message})`)));
      });
      conn.on('error', () => {}); // reported by 'close', with how far the upload got
      if (onClose) conn.on('close', onClose);
      return conn;
    } finally {
      closeSync(fd);
      rmSync(this.offerPath, { force: true });
    }
  }
}
