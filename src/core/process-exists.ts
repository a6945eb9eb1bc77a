/**
 * Whether a process of this PID exists (signal 0 checks without sending anything). EPERM means it
 * exists but is another user's. A zombie still counts: its parent has not reaped it yet.
 */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
