/**
 * Span and attribute names for an invocation's phases. One list so the control plane, the worker,
 * the dashboard and the CLI agree, and so a researcher reading Zipkin sees the thesis' vocabulary.
 */
export const SpanNames = {
  /** Root span of one invocation, from the gateway receiving it to the response. */
  invocation: 'invocation',
  gateway: 'gateway',
  activatorQueue: 'activator.queue',
  coldStart: 'coldstart',
  /** A start waiting on its worker for a start slot (worker/start-admission.ts). */
  startQueue: 'coldstart.queue',
  sandboxStart: 'coldstart.sandbox.start',
  sandboxRestore: 'coldstart.sandbox.restore',
  connect: 'coldstart.connect',
  wsFetch: 'coldstart.ws.fetch',
  wsInstall: 'coldstart.ws.install',
  queueProxyWait: 'queue-proxy.wait',
  functionProcess: 'function.process',
  xdtTransfer: 'xdt.transfer',
} as const;

export const Attr = {
  function: 'hivelab.function',
  invocationId: 'hivelab.invocation_id',
  instanceId: 'hivelab.instance_id',
  cold: 'hivelab.cold',
  coldStartMode: 'hivelab.coldstart.mode',
  /** Instance starts the worker runs at once (the others wait: `coldstart.queue`). */
  startSlots: 'hivelab.coldstart.slots',
  /** Working-set pages installed ahead of time by REAP's prefetch. */
  pagesPrefetched: 'hivelab.ws.pages_prefetched',
  /** Page faults served one at a time (lazy restore, or REAP's record phase). */
  faultsOnDemand: 'hivelab.ws.faults_on_demand',
  wsBytes: 'hivelab.ws.bytes',
  xdtBytes: 'hivelab.xdt.bytes',
  /** The instance's sidecar pulled the event's object while the instance cold-started (thesis §6.4.1). */
  xdtPrefetch: 'hivelab.xdt.prefetch',
  xdtDirection: 'hivelab.xdt.direction',
  statusCode: 'http.response.status_code',
} as const;

/**
 * A phase timed in another process (the worker: sandbox start or restore, working-set fetch and
 * install), sent back as plain numbers with the instance-start reply. The control plane turns
 * each into a span with `addPhaseTimings`.
 */
export interface PhaseTiming {
  /** A `SpanNames` value, e.g. `coldstart.sandbox.restore`. */
  name: string;
  startEpochMs: number;
  endEpochMs: number;
  attributes?: Record<string, string | number | boolean>;
  error?: string;
}
