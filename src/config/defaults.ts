/** Platform-wide defaults; every one can be overridden by `hivelab up` flags or the function manifest. */
export const DEFAULTS = {
  port: 8080,
  host: '127.0.0.1',
  /** AWS Lambda's synchronous payload limit. */
  inlineLimitBytes: 6 * 1024 * 1024,
  /** Requests the activator buffers per function while no instance has a free slot. */
  activatorQueueDepth: 10_000,
  /** How long a buffered request may wait for an instance before a 503. */
  activatorTimeoutMs: 120_000,
  /** Queue-proxy queue per instance, as a multiple of its concurrency (Knative). */
  queueProxyQueueFactor: 10,
  /** Memory a worker may commit to instances. */
  workerMemoryBudgetMB: 16 * 1024,
  workers: 1,
  /** The gateway busy-polls this long after each invocation event (src/gateway/busy-poll.ts). */
  busyPollUs: 100,
  /** Per worker: 64 × 4 MiB of XDT buffers. */
  xdtPool: { buffers: 64, bufferBytes: 4 * 1024 * 1024 },
} as const;
