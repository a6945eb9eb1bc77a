/**
 * The storage transport: objects go through an S3-API object store (the embedded s3rver by default,
 * any S3 endpoint otherwise) — the baseline XDT is compared against. The object key travels inside
 * a sealed reference, so user code still cannot name or read arbitrary keys.
 * S3 has no atomic counter: retrievals are counted in the platform's retrieval ledger before each
 * get (sidecar/objects.ts); objects are deleted at expiry by the bucket owner's lifecycle.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { TransferError } from './errors.js';
import { readAll, type IncomingObject, type OutgoingObject } from './object-stream.js';
import { sealReference, type RefPayload } from './reference.js';

export interface S3Config {
  endpoint: string;
  bucket: string;
  region?: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export class StorageTransport {
  private readonly client: S3Client;
  private readonly bucket: string;
  private bucketReady: Promise<void> | undefined;

  constructor(cfg: S3Config) {
    this.bucket = cfg.bucket;
    this.client = new S3Client({
      endpoint: cfg.endpoint,
      region: cfg.region ?? 'us-east-1',
      credentials: cfg.credentials,
      forcePathStyle: true,
      // checksums on every part cost a full extra pass over 100 MB objects and s3rver ignores them
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private ensureBucket(): Promise<void> {
    this.bucketReady ??= this.client
      .send(new CreateBucketCommand({ Bucket: this.bucket }))
      .then(() => undefined)
      .catch((err: { name?: string }) => {
        if (err.name === 'BucketAlreadyOwnedByYou' || err.name === 'BucketAlreadyExists') return;
        this.bucketReady = undefined;
        throw new TransferError('TransferUnavailable', `S3 bucket ${this.bucket} unavailable: ${String((err as Error).message)}`);
      });
    return this.bucketReady;
  }

  async put(sealKey: Buffer, obj: IncomingObject, retrievals: number, ttlMs: number): Promise<string> {
    await this.ensureBucket();
    const key = `hivelab/${randomBytes(16).toString('base64url')}`;
    const data = await readAll(obj.body, Math.max(obj.size, 0), () => new TransferError('InvalidArgument', `object is longer than its declared ${obj.size} B`));
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: data, ContentType: obj.contentType, ContentLength: data.length }));
    } catch (err) {
      throw new TransferError('TransferUnavailable', `S3 put failed: ${(err as Error).message}`);
    }
    return sealReference(sealKey, { t: 'storage', b: this.bucket, k: key, n: retrievals, e: Date.now() + ttlMs });
  }

  async get(payload: Extract<RefPayload, { t: 'storage' }>): Promise<OutgoingObject> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: payload.b, Key: payload.k }));
      return {
        contentType: res.ContentType ?? 'application/octet-stream',
        size: Number(res.ContentLength ?? 0),
        body: res.Body as Readable,
      };
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'NoSuchKey' || name === 'NotFound') throw new TransferError('ObjectNotFound', `storage object ${payload.k} not found`);
      throw new TransferError('TransferUnavailable', `S3 get failed: ${(err as Error).message}`);
    }
  }

  close(): void {
    this.client.destroy();
  }
}
