/**
 * The redis transport (the ElastiCache-style baseline): the object is one Redis string with a TTL,
 * next to a retrieval counter; a Lua script takes one retrieval atomically and deletes the value on
 * the N-th, leaving the counter behind so a further `get` reports XdtRefExhausted, not a vague miss.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { TransferError } from './errors.js';
import { readAll, type IncomingObject, type OutgoingObject } from './object-stream.js';
import { sealReference, type RefPayload } from './reference.js';

export interface RedisConfig {
  host: string;
  port: number;
  password?: string;
}

const TAKE = `
local v = redis.call('GET', KEYS[1])
if not v then
  if redis.call('EXISTS', KEYS[2]) == 1 then return {1} end
  return {0}
end
local n = redis.call('DECR', KEYS[2])
if n <= 0 then redis.call('DEL', KEYS[1]) end
return {2, v}
`;

export class RedisTransport {
  private readonly redis: Redis;

  constructor(cfg: RedisConfig) {
    this.redis = new Redis({
      host: cfg.host,
      port: cfg.port,
      password: cfg.password,
      lazyConnect: true,
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
    });
    this.redis.on('error', () => {});
  }

  async put(sealKey: Buffer, obj: IncomingObject, retrievals: number, ttlMs: number): Promise<string> {
    const key = `hivelab:${randomBytes(16).toString('base64url')}`;
    const data = await readAll(obj.body, Math.max(obj.size, 0), () => new TransferError('InvalidArgument', `object is longer than its declared ${obj.size} B`));
    try {
      await this.redis.multi().set(key, data, 'PX', ttlMs).set(`${key}:n`, retrievals, 'PX', ttlMs).exec();
    } catch (err) {
      throw new TransferError('TransferUnavailable', `redis put failed: ${(err as Error).message}`);
    }
    return sealReference(sealKey, { t: 'redis', k: key, n: retrievals, e: Date.now() + ttlMs, c: obj.contentType });
  }

  async get(payload: Extract<RefPayload, { t: 'redis' }>): Promise<OutgoingObject> {
    let res: unknown;
    try {
      res = await this.redis.callBuffer('EVAL', [TAKE, 2, payload.k, `${payload.k}:n`]);
    } catch (err) {
      throw new TransferError('TransferUnavailable', `redis get failed: ${(err as Error).message}`);
    }
    const [state, value] = res as [number, Buffer | undefined];
    if (state === 1) throw new TransferError('XdtRefExhausted', 'object was already retrieved the allowed number of times');
    if (state !== 2 || !value) throw new TransferError('ObjectNotFound', `redis object ${payload.k} not found (expired or evicted)`);
    return { contentType: payload.c ?? 'application/octet-stream', size: value.length, body: value };
  }

  close(): void {
    this.redis.disconnect();
  }
}
