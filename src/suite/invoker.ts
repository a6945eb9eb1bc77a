import type { SuiteEvent, SuiteFunction } from './types.js';

/** One invocation as the suite observed it. */
export interface Invocation {
  /** The handler's return value (parsed JSON). */
  output: unknown;
  /** Round-trip time seen by the caller, milliseconds. */
  ms: number;
  /** Whether the invocation started an instance (`x-hivelab-cold`); undefined when unknown. */
  cold?: boolean;
  instanceId?: string;
}

/**
 * How the suite reaches a function: directly in this machine's runtimes (tests, `suite check --local`)
 * or through a running platform's HTTP API. Everything else (validation, reporting) is shared, so
 * swapping one for the other is one constructor.
 */
export interface Invoker {
  readonly kind: string;
  /** Makes the function invocable (deploys it); the next invocation is a cold start. */
  prepare(fn: SuiteFunction): Promise<void>;
  /** Invokes; rejects with an Error carrying the handler's message on failure. */
  invoke(fn: SuiteFunction, event: SuiteEvent): Promise<Invocation>;
  /** Resident memory of the instance that served the last invocation, in MB (undefined when unknown). */
  residentMB(fn: SuiteFunction, instanceId?: string): Promise<number | undefined>;
  /** Releases whatever prepare() started. */
  close(): Promise<void>;
}
