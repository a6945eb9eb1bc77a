/**
 * An instance's life in the control plane: `starting` until its runtime answers, `ready` with a
 * free slot, `busy` at its concurrency limit, `draining` while it finishes its requests before it
 * stops, `dead` once its worker reported the exit. Its own file (no imports): the dashboard shows it.
 */
export type InstanceState = 'starting' | 'ready' | 'busy' | 'draining' | 'dead';
