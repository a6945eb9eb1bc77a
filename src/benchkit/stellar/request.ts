/**
 * STeLLAR's request format (src/benchmarking/networking/benchhttp/functions.go): a GET, no body,
 * `?IncrementLimit={n}&PayloadLengthBytes={n}&DataTransferChainIDs={Go %v of the IDs}`, e.g.
 * `[]` or `[id1 id2]` — so STeLLAR's own functions (hellopy, producer-consumer) get their busy-spin
 * and their chain as under STeLLAR. The space between IDs travels as %20 (STeLLAR writes it raw,
 * which is not valid in a request line).
 */
export function stellarQuery(incrementLimit: number, payloadBytes: number, chainIds: readonly string[]): string {
  return `IncrementLimit=${incrementLimit}&PayloadLengthBytes=${payloadBytes}&DataTransferChainIDs=[${chainIds.join(' ')}]`;
}

export function stellarUrl(base: string, query: string): string {
  const u = new URL(base);
  u.search = u.search ? `${u.search.slice(1)}&${query}` : query;
  return u.toString();
}

/**
 * STeLLAR turns a service time into a busy-spin loop count on the CLIENT host (determine-busy-spin.go:
 * time an empty loop, scale). The same here with a JavaScript loop: increments per ms of this
 * host's empty loop. Like STeLLAR's, it is a proxy — the function's own loop (Python, Go) runs at its
 * own speed; set `incrementsPerMs` in the experiment to pin it.
 */
let calibrated: number | undefined;
export function calibrateIncrementsPerMs(iterations = 50_000_000): number {
  if (calibrated !== undefined) return calibrated;
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    let i = 0;
    while (i < iterations) i++;
    const ms = performance.now() - t0;
    // `i` is read so the loop cannot be optimised away.
    if (i === iterations) best = Math.min(best, ms);
  }
  calibrated = iterations / Math.max(best, 1e-3);
  return calibrated;
}

/** The IncrementLimit for a service time (ms), STeLLAR's int64(standardIncrements · desired / standard). */
export function incrementLimit(serviceTimeMs: number, incrementsPerMs: number): number {
  return serviceTimeMs <= 0 ? 0 : Math.trunc(serviceTimeMs * incrementsPerMs);
}
