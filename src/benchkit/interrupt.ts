/**
 * Ctrl-C during a measurement: the first stops sending and lets the caller write what was measured
 * so far (then exit 130); a second quits at once. Returns the signal to pass down and a disposer.
 */
export function onInterrupt(log: (line: string) => void): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const handler = (): void => {
    if (ac.signal.aborted) process.exit(130);
    log('\ninterrupted: writing the results measured so far (Ctrl-C again to quit at once)');
    ac.abort();
  };
  process.on('SIGINT', handler);
  return { signal: ac.signal, dispose: () => process.off('SIGINT', handler) };
}
