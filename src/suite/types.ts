import type { Runtime } from '../manifest/schema.js';

/** A JSON event as the suite sends it; every function accepts `inputMode`, `seed`, `index` (functions/README.md). */
export type SuiteEvent = Record<string, unknown>;

/**
 * Checks a function's output for the event that produced it and returns the problems found (empty
 * when the output is valid). Checks recompute what they can (a Fibonacci number, an HMAC, an AES
 * block) instead of trusting the function's own claims.
 */
export type Validator = (output: unknown, event: SuiteEvent) => string[] | Promise<string[]>;

/**
 * A gRPC function (manifest `protocol: "grpc"`, e.g. vSwarm's): the suite sends its sample event as
 * the request message of one unary call through the gateway, and validates the decoded reply.
 */
export interface GrpcMethod {
  /** Absolute path of the .proto that defines the method. */
  proto: string;
  /** `<package>.<Service>/<Method>`, e.g. `fibonacci.Greeter/SayHello`. */
  method: string;
}

/** One function of the suite, as the catalogue lists it. */
export interface SuiteFunction {
  /**
   * Function name: the name it is deployed and invoked under. For the HTTP functions it is the
   * folder's name and its manifest's; a gRPC function is deployed under this name whatever its
   * folder's function.json says (vSwarm's `fibonacci-python` is the suite's `vswarm-fibonacci-python`).
   */
  name: string;
  runtime: Runtime;
  /** Absolute path of the function folder. */
  dir: string;
  /** Absolute path of the folder's sample event (the HTTP functions'). */
  sampleInputPath?: string;
  /** The sample event itself, where the folder has none (the gRPC functions': the request message as JSON). */
  sample?: SuiteEvent;
  /** Whether set-up must have generated `data/` before the function can run. */
  needsData: boolean;
  validate: Validator;
  /** Present for a gRPC function: how to call it. Absent: the event is POSTed to `/invoke/<name>`. */
  grpc?: GrpcMethod;
}
