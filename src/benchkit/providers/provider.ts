import type { ProviderName, SubExperiment } from '../experiment.js';

/**
 * A provider (STeLLAR's deployer plugins, §3.3): turns a sub-experiment's static function
 * configuration into endpoint URLs, one per replica, and tears down what it deployed. The client
 * never knows which provider it is talking to.
 */
export interface Deployment {
  /** Entry URL of each replica (a chain's first function); bursts go round-robin over them. */
  urls: string[];
  /** Sent with every request (e.g. the platform's invoke token). */
  headers: Record<string, string>;
  /** What replica r's first function must call next, in order (names or URLs; empty for one function). */
  chain(replica: number): string[];
}

export interface ProviderContext {
  /** Folder of the experiment file: relative `function` paths resolve against it. */
  experimentDir: string;
  /** The run's output folder (e.g. Knative manifests go under it). */
  outDir: string;
  /** Short unique run id, part of deployed function names so parallel runs never collide. */
  runId: string;
  log: (line: string) => void;
}

export interface Provider {
  readonly name: ProviderName;
  deploy(sub: SubExperiment, index: number): Promise<Deployment>;
  /** Removes everything deploy() created; safe to call after a failed or interrupted run. */
  teardown(): Promise<void>;
}
