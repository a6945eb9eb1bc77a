import { readFileSync } from 'node:fs';

/** Running: the task exists and is not a zombie (a killed task its parent has not reaped yet). */
export function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
