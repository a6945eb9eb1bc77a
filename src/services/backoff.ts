/**
 * Restart delays for a crashed data service: 250 ms, doubling per failure in a row, at most 10 s —
 * quick to come back from a one-off kill, no hot loop for a service that cannot start.
 */
export const RESTART_BASE_MS = 250;
export const RESTART_MAX_MS = 10_000;

export function restartDelayMs(failuresInARow: number): number {
  return Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** Math.max(0, failuresInARow));
}
