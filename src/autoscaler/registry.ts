import type { ScalingPolicy } from './policy.js';
import type { ScalingConfig } from './config.js';
import { createKpa } from './kpa.js';
import { createFixedKeepAlive } from './fixed-keepalive.js';
import { createHybridHistogram } from './hybrid-histogram.js';

export type PolicyFactory = (cfg: ScalingConfig) => ScalingPolicy;

/**
 * Policy name (as written in `function.json` → `scaling.policy`) → factory.
 * A new policy: one file exporting a factory, plus one line here.
 */
const POLICIES = new Map<string, PolicyFactory>([
  ['kpa', createKpa],
  ['fixed-keepalive', createFixedKeepAlive],
  ['hybrid-histogram', createHybridHistogram],
]);

/** Registers a policy at run time (tests, experiments loaded from outside src/). */
export function registerPolicy(name: string, factory: PolicyFactory): void {
  POLICIES.set(name, factory);
}

export function policyNames(): string[] {
  return [...POLICIES.keys()];
}

export class UnknownPolicyError extends Error {
  constructor(readonly policy: string) {
    super(`unknown scaling policy "${policy}" (known: ${policyNames().join(', ')})`);
    this.name = 'UnknownPolicyError';
  }
}

/** A fresh policy instance for one function; `name` defaults to `cfg.policy`. */
export function createPolicy(cfg: ScalingConfig, name: string = cfg.policy): ScalingPolicy {
  const factory = POLICIES.get(name);
  if (!factory) throw new UnknownPolicyError(name);
  return factory(cfg);
}
