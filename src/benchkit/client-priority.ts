import { setPriority } from 'node:os';

/**
 * Raises the sending thread's scheduling priority (a negative nice value; needs root or
 * CAP_SYS_NICE). STeLLAR runs its client on a machine of its own; here the client shares the cores
 * with the platform it measures, and at equal priority a burst of cold starts preempts it and
 * shows up as send lag. Best effort: without the privilege the run goes on at normal priority.
 */
export function raiseClientPriority(nice: number, log: (line: string) => void): void {
  if (nice === 0) return;
  try {
    setPriority(0, nice);
    log(`client runs at nice ${nice}`);
  } catch (e) {
    log(`could not set nice ${nice} (${(e as Error).message}); the client runs at normal priority`);
  }
}

