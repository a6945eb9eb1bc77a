/**
 * Runs a handler the way AWS Lambda's Node runtime does, so handlers written for Lambda run as
 * they are: `async (event, context)`, `(event, context, callback)`, and `context.succeed / fail /
 * done`. The outcome is the FIRST of:
 *   - callback(err, result) / context.done(err, result) / succeed(result) / fail(err)
 *     (later calls are ignored, as on Lambda; `fail()` with no error reports "handled"),
 *   - the settlement of a returned promise,
 *   - a plain (non-undefined) return value — Hivelab's own contract for synchronous handlers
 *     (Lambda would ignore it; kept so Hivelab functions keep working),
 *   - for a handler that returned nothing and called nothing: the event loop going quiet (no
 *     timers, sockets or file operations of its own left) → null, like Lambda's
 *     callbackWaitsForEmptyEventLoop.
 * A callback's result is answered at once, without waiting for the event loop to empty (Lambda's
 * callbackWaitsForEmptyEventLoop = false); see docs/COMING-FROM.md.
 */
export type AnyHandler = (event: unknown, context: object, callback?: (err?: unknown, result?: unknown) => void) => unknown;

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/** Resources of the process's own that are not the handler's (the shim's server and connection). */
function activeCount(): number {
  return process.getActiveResourcesInfo().filter((r) => r !== 'PipeWrap' && r !== 'PipeServerWrap' && r !== 'TTYWrap').length;
}

/** Resolves once no resource beyond `baseline` is active, checking after each turn of the loop. */
function whenQuiet(baseline: number, cancelled: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (cancelled()) return;
      if (activeCount() <= baseline) resolve();
      // A 1 ms poll, not setImmediate: an immediate would itself keep the loop busy forever.
      else setTimeout(check, 1).unref();
    };
    setImmediate(check);
  });
}

const AsyncFunction = (async () => {}).constructor;

export class HandledFailure extends Error {
  constructor() {
    super('handled');
    this.name = 'Error';
  }
}

export function runLambdaStyle(handler: AnyHandler, event: unknown, context: Record<string, unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err?: unknown, result?: unknown): void => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err);
      else resolve(result === undefined ? null : result);
    };
    context.done = done;
    context.succeed = (result?: unknown) => done(null, result);
    context.fail = (err?: unknown) => done(err === undefined || err === null ? new HandledFailure() : err);
    // Only a handler that may return nothing and answer later needs the event loop's baseline; an
    // async function always returns a promise, so the (µs) count is skipped on Hivelab's usual path.
    const baseline = handler.constructor === AsyncFunction ? 0 : activeCount();
    let ret: unknown;
    try {
      ret = handler(event, context, done);
    } catch (err) {
      done(err);
      return;
    }
    if (settled) return;
    if (isPromiseLike(ret)) {
      ret.then(
        (v) => done(null, v),
        (e: unknown) => done(e ?? new Error('the handler\'s promise was rejected without a reason')),
      );
      return;
    }
    if (ret !== undefined) {
      done(null, ret);
      return;
    }
    void whenQuiet(baseline, () => settled).then(() => done(null, null));
  });
}
