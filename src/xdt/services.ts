/**
 * The per-worker transfer services every sidecar of the worker shares: the sealing key, the XDT
 * buffer pool, object store and HTTP/2 peer server (one each per worker), the HTTP/2 client for
 * pulls from other workers, and the storage/redis clients. Created once per worker.
 */
import { randomBytes } from 'node:crypto';
import { BufferPool } from './buffer-pool.js';
import { XdtObjectStore } from './object-store.js';
import { startPeerServer, type XdtPeerServer } from './peer-server.js';
import { XdtPeerClient } from './peer-client.js';
import { checkSealKey } from '../transfer/reference.js';
import { StorageTransport, type S3Config } from '../transfer/storage.js';
import { RedisTransport, type RedisConfig } from '../transfer/redis-transport.js';
import type { TransferKind } from '../transfer/object-stream.js';
import { MemoryLedger, type RetrievalLedger } from '../transfer/retrieval-ledger.js';

export interface TransferServicesOptions {
  stateDir: string;
  /** 32-byte AES-256-GCM key, the same on every worker of the platform, never given to user code */
  sealKey: Buffer;
  s3?: S3Config;
  redis?: RedisConfig;
  /** `ownerShare`: the fraction of the pool one function may hold (default 0.75, buffer-pool.ts) */
  pool: { buffers: number; bufferBytes: number; ownerShare?: number };
  /** buffers a cut-through (streamed) transfer may hold at once; default 8 */
  streamWindow?: number;
  /** inline limit, default 6 MiB (the gateway's) */
  inlineLimitBytes?: number;
  /** lifetime of objects and references, default 10 min */
  ttlMs?: number;
  /** longest a put/invoke waits for pool buffers before XdtPoolTimeout; default 120 s */
  poolWaitTimeoutMs?: number;
  /** no progress on a pull for this long → TransferAborted; default 120 s */
  pullIdleTimeoutMs?: number;
  /** transport of `put` when the call names none; default xdt */
  defaultPutTransfer?: TransferKind;
  /** transport of `invoke` when the call names none; default inline */
  defaultInvokeTransfer?: TransferKind;
  /** interface of the peer server; default 127.0.0.1 */
  peerHost?: string;
  /** where inline and storage retrievals are counted; default one of this worker's own (retrieval-ledger.ts) */
  ledger?: RetrievalLedger;
}

export interface TransferServices {
  readonly stateDir: string;
  readonly sealKey: Buffer;
  /** random per worker start: references minted before a restart are recognised as stale */
  readonly bootId: string;
  readonly pool: BufferPool;
  readonly store: XdtObjectStore;
  readonly peer: XdtPeerServer;
  readonly peerClient: XdtPeerClient;
  readonly storage: StorageTransport | undefined;
  readonly redis: RedisTransport | undefined;
  readonly streamWindow: number;
  readonly inlineLimitBytes: number;
  readonly ttlMs: number;
  readonly poolWaitTimeoutMs: number;
  readonly defaultPutTransfer: TransferKind;
  readonly defaultInvokeTransfer: TransferKind;
  readonly ledger: RetrievalLedger;
  close(): Promise<void>;
}

export async function createTransferServices(opts: TransferServicesOptions): Promise<TransferServices> {
  checkSealKey(opts.sealKey);
  const pool = new BufferPool(opts.pool);
  const store = new XdtObjectStore(pool);
  const bootId = randomBytes(8).toString('base64url');
  const peer = await startPeerServer({ sealKey: opts.sealKey, bootId, store, host: opts.peerHost });
  const peerClient = new XdtPeerClient({ idleTimeoutMs: opts.pullIdleTimeoutMs });
  const storage = opts.s3 ? new StorageTransport(opts.s3) : undefined;
  const redis = opts.redis ? new RedisTransport(opts.redis) : undefined;
  return {
    stateDir: opts.stateDir,
    sealKey: opts.sealKey,
    bootId,
    pool,
    store,
    peer,
    peerClient,
    storage,
    redis,
    streamWindow: opts.streamWindow ?? 8,
    inlineLimitBytes: opts.inlineLimitBytes ?? 6 * 1024 * 1024,
    ttlMs: opts.ttlMs ?? 10 * 60_000,
    poolWaitTimeoutMs: opts.poolWaitTimeoutMs ?? 120_000,
    defaultPutTransfer: opts.defaultPutTransfer ?? 'xdt',
    defaultInvokeTransfer: opts.defaultInvokeTransfer ?? 'inline',
    ledger: opts.ledger ?? new MemoryLedger(),
    async close() {
      store.clear();
      peerClient.close();
      storage?.close();
      redis?.close();
      await peer.close();
    },
  };
}
