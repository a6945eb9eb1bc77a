import { describe, expect, it } from 'vitest';
import { catalogue, sampleInput } from '../../src/suite/catalogue.js';
import { useSuiteInvoker } from './harness.js';

const POOL_SIZE = 4; // functions/_shared/inputmode.*

// Every HTTP suite function, run for real with its sample input, cold then warm; outputs checked by
// the same validators `hivelab suite check` uses. The gRPC ones: test/suite/grpc.test.ts.
const invoker = useSuiteInvoker();

describe.each(catalogue().filter((fn) => !fn.grpc).map((fn) => [fn.name, fn] as const))('%s', (_name, fn) => {
  it('produces a valid output for its sample input, cold and warm', async () => {
    const event = await sampleInput(fn);
    await invoker().prepare(fn);
    const cold = await invoker().invoke(fn, event);
    expect(await fn.validate(cold.output, event)).toEqual([]);
    const warm = await invoker().invoke(fn, event);
    if (cold.cold !== undefined) expect([cold.cold, warm.cold]).toEqual([true, false]);
    expect(await fn.validate(warm.output, event)).toEqual([]);
    // "same" input mode: the warm invocation worked on the very same variant.
    expect((warm.output as { input: unknown }).input).toEqual((cold.output as { input: unknown }).input);
  });

  it('runs with defaults on a null event (an empty JSON body)', async () => {
    await invoker().prepare(fn);
    const { output } = await invoker().invoke(fn, null as unknown as Record<string, unknown>);
    expect(await fn.validate(output, {})).toEqual([]);
  });

  it('varies its input as told: linear walks the pool, unique leaves it, outputs stay valid', async () => {
    const sample = await sampleInput(fn);
    await invoker().prepare(fn);
    // "linear" counts per instance, and the platform may run more than one (a start the autoscaler
    // asked for earlier): compare successive invocations of the same instance. Five invocations over
    // at most four instances give at least one such pair.
    const last = new Map<string, number>();
    const steps: number[] = [];
    for (let i = 0; i < 5; i++) {
      const event = { ...sample, inputMode: 'linear' };
      const { output, instanceId } = await invoker().invoke(fn, event);
      expect(await fn.validate(output, event)).toEqual([]);
      const index = (output as { input: { index: number } }).input.index;
      expect(index).toBeLessThan(POOL_SIZE);
      const key = instanceId ?? 'local';
      if (last.has(key)) steps.push((index - last.get(key)! + POOL_SIZE) % POOL_SIZE);
      last.set(key, index);
    }
    // consecutive in the pool, per instance (its counter may already have moved on: modules are cached)
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.every((step) => step === 1)).toBe(true);
    const unique = { ...sample, inputMode: 'unique' };
    const a = await invoker().invoke(fn, unique);
    const b = await invoker().invoke(fn, unique);
    expect(await fn.validate(a.output, unique)).toEqual([]);
    const [ia, ib] = [a.output, b.output].map((o) => (o as { input: { index: number; pooled: boolean } }).input);
    expect(ia!.pooled).toBe(false);
    expect(ia!.index).not.toBe(ib!.index);
  });
});
