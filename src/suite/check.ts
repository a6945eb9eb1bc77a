import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { sampleInput } from './catalogue.js';
import type { Invoker } from './invoker.js';
import type { SuiteFunction } from './types.js';

/** One line of `hivelab suite check` (the `--json` shape, issue 8). */
export interface CheckResult {
  name: string;
  runtime: string;
  /** How the suite called it: `http` (POST /invoke/<name>) or `grpc` (one unary call). */
  protocol: 'http' | 'grpc';
  ok: boolean;
  coldMs?: number;
  warmMs?: number;
  rssMB?: number;
  /** Whether the platform reported the first invocation as cold (`x-hivelab-cold`). */
  coldObserved?: boolean;
  error?: string;
}

/**
 * Checks one function: prepare (deploy fresh), invoke cold then warm with the sample input, validate
 * both outputs, read the instance's resident memory. Never throws: failures land in `error`.
 */
export async function checkFunction(fn: SuiteFunction, invoker: Invoker): Promise<CheckResult> {
  const result: CheckResult = { name: fn.name, runtime: fn.runtime, protocol: fn.grpc ? 'grpc' : 'http', ok: false };
  try {
    if (fn.needsData) {
      await access(join(fn.dir, 'data')).catch(() => {
        throw new Error(`${fn.dir}/data is missing: run scripts/setup-suite.sh`);
      });
    }
    const event = await sampleInput(fn);
    await invoker.prepare(fn);
    const cold = await invoker.invoke(fn, event);
    result.coldMs = round(cold.ms);
    if (cold.cold !== undefined) result.coldObserved = cold.cold;
    const coldProblems = await fn.validate(cold.output, event);
    if (coldProblems.length) throw new Error(`cold output invalid: ${coldProblems.join('; ')}`);
    const warm = await invoker.invoke(fn, event);
    result.warmMs = round(warm.ms);
    const warmProblems = await fn.validate(warm.output, event);
    if (warmProblems.length) throw new Error(`warm output invalid: ${warmProblems.join('; ')}`);
    const rss = await invoker.residentMB(fn, warm.instanceId).catch(() => undefined);
    if (rss !== undefined) result.rssMB = round(rss);
    result.ok = true;
  } catch (err) {
    result.error = (err as Error).message;
  }
  return result;
}

export async function checkSuite(fns: SuiteFunction[], invoker: Invoker, onResult?: (r: CheckResult) => void): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  // One at a time: concurrent cold starts on two cores would measure contention, not the function.
  for (const fn of fns) {
    const r = await checkFunction(fn, invoker);
    results.push(r);
    onResult?.(r);
  }
  return results;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
