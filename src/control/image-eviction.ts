import type { ImageStore } from '../image/store.js';

/**
 * Garbage collection of the image store (docs/IMAGES.md, "Eviction"). When the last function using
 * an image is removed, the image's assembled roots and the layers no other image uses are deleted
 * after a grace period (10 minutes by default), so a quick re-deploy of the same image reuses them:
 * a deploy naming the image within the grace cancels the eviction. When the timer fires the image
 * is checked again (a deploy may have come by another path), and each root's CRIU restore bind is
 * unmounted before the root is deleted (`releaseRoot`).
 */

export const DEFAULT_IMAGE_EVICTION_GRACE_MS = 10 * 60_000;

/** The clock evictions wait on: real timers by default, a hand-driven one in tests. */
export interface EvictionTimers {
  set(fire: () => Promise<void>, ms: number): unknown;
  clear(handle: unknown): void;
}

export const realTimers: EvictionTimers = {
  set(fire, ms) {
    const t = setTimeout(() => void fire(), ms);
    t.unref(); // a pending eviction never keeps the platform's process alive
    return t;
  },
  clear(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

export interface ImageEvictionOptions {
  store: ImageStore;
  /** Whether a deployed function names the image. */
  inUse(imageId: string): boolean;
  /** Unmounts whatever binds the root (the restore root CRIU restores image instances into). */
  releaseRoot(root: string): Promise<unknown>;
  log(level: 'info' | 'warn', msg: string): void;
  graceMs?: number;
  timers?: EvictionTimers;
}

export class ImageEviction {
  private readonly pending = new Map<string, unknown>();
  private readonly running = new Set<Promise<void>>();
  readonly graceMs: number;
  private readonly timers: EvictionTimers;

  constructor(private readonly opts: ImageEvictionOptions) {
    this.graceMs = opts.graceMs ?? DEFAULT_IMAGE_EVICTION_GRACE_MS;
    this.timers = opts.timers ?? realTimers;
  }

  /** The image lost its last function: evicted after the grace unless deployed again. */
  schedule(imageId: string): void {
    if (this.pending.has(imageId) || this.opts.inUse(imageId)) return;
    this.pending.set(imageId, this.timers.set(() => this.fire(imageId), this.graceMs));
  }

  /** A function names the image again: its pending eviction, if any, is dropped. */
  cancel(imageId: string): boolean {
    const h = this.pending.get(imageId);
    if (h === undefined) return false;
    this.timers.clear(h);
    this.pending.delete(imageId);
    return true;
  }

  isPending(imageId: string): boolean {
    return this.pending.has(imageId);
  }

  private fire(imageId: string): Promise<void> {
    if (!this.pending.delete(imageId)) return Promise.resolve(); // cancelled meanwhile
    if (this.opts.inUse(imageId)) return Promise.resolve();
    const run = this.opts.store
      .evict(imageId, { beforeRemoveRoot: async (root) => void (await this.opts.releaseRoot(root)) })
      .then(
        (r) => this.opts.log('info', `image ${imageId.slice(0, 19)} evicted: ${r.roots.length} root(s), ${r.layers.length} layer(s) no other image uses`),
        (err: unknown) => this.opts.log('warn', `image ${imageId.slice(0, 19)}: eviction failed: ${(err as Error).message}`),
      );
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
    return run;
  }

  /** Drops the pending evictions (the images stay) and waits for running ones. */
  async stop(): Promise<void> {
    for (const id of [...this.pending.keys()]) this.cancel(id);
    await Promise.all(this.running);
  }
}
