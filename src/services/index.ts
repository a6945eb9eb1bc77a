/**
 * The data services the platform starts at start-up for the storage and redis transports. Hand
 * `s3.config` and `redis` (host, port, password) to createTransferServices on every worker.
 */
import { startRedis, type RedisService } from './redis.js';
import { startS3, type S3Service } from './s3.js';
import type { ServiceCrashedError, ServiceStatus } from './managed-process.js';

export type { RedisService } from './redis.js';
export type { S3Service } from './s3.js';
export { ServiceCrashedError } from './managed-process.js';
export type { ServiceStatus } from './managed-process.js';

export interface Services {
  s3: S3Service;
  redis: RedisService;
  /** each service's supervision state (running, restarting after a crash, stopped) */
  status(): ServiceStatus[];
  stop(): Promise<void>;
}

export async function startServices(opts: {
  stateDir: string;
  onCrash?: (err: ServiceCrashedError) => void;
  onRestart?: (name: string, restarts: number) => void;
}): Promise<Services> {
  const [s3, redis] = await Promise.allSettled([
    startS3({ stateDir: opts.stateDir, onCrash: opts.onCrash, onRestart: opts.onRestart }),
    startRedis({ stateDir: opts.stateDir, onCrash: opts.onCrash, onRestart: opts.onRestart }),
  ]);
  if (s3.status === 'rejected' || redis.status === 'rejected') {
    if (s3.status === 'fulfilled') await s3.value.stop();
    if (redis.status === 'fulfilled') await redis.value.stop();
    throw s3.status === 'rejected' ? s3.reason : (redis as PromiseRejectedResult).reason;
  }
  return {
    s3: s3.value,
    redis: redis.value,
    status: () => [s3.value.status(), redis.value.status()],
    async stop() {
      await Promise.all([s3.value.stop(), redis.value.stop()]);
    },
  };
}
