/**
 * Knative's activator load-balancing choice by container concurrency: with few slots per instance
 * the first instance with a free slot keeps instances packed (and lets idle ones scale away); with
 * more slots round robin spreads the load; unlimited concurrency picks the better of two random
 * instances.
 */
export type LbPolicy = 'first-available' | 'round-robin' | 'power-of-two';

export function lbPolicyFor(concurrency: number): LbPolicy {
  if (concurrency <= 0) return 'power-of-two';
  return concurrency <= 3 ? 'first-available' : 'round-robin';
}

export interface Slotted {
  readonly inFlight: number;
  readonly capacity: number;
}

/** Index of the chosen instance (only ones with a free slot qualify), or -1. */
export function pickInstance<T extends Slotted>(
  policy: LbPolicy,
  instances: readonly T[],
  cursor: { next: number },
  random: () => number = Math.random,
): number {
  const n = instances.length;
  if (n === 0) return -1;
  const free = (i: number) => instances[i]!.inFlight < instances[i]!.capacity;
  switch (policy) {
    case 'first-available':
      for (let i = 0; i < n; i++) if (free(i)) return i;
      return -1;
    case 'round-robin':
      for (let k = 0; k < n; k++) {
        const i = (cursor.next + k) % n;
        if (free(i)) {
          cursor.next = (i + 1) % n;
          return i;
        }
      }
      return -1;
    case 'power-of-two': {
      const a = Math.floor(random() * n);
      const b = Math.floor(random() * n);
      const best = instances[a]!.inFlight <= instances[b]!.inFlight ? a : b;
      return free(best) ? best : instances.findIndex((_, i) => free(i));
    }
  }
}
