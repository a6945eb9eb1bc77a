export type { ConcurrencySample, ScaleState, ScalingDecision, ScalingPolicy } from './policy.js';
export { resolveScalingConfig, applyScaleBounds, instancesFor, SCALING_DEFAULTS, type ScalingConfig } from './config.js';
export { createPolicy, registerPolicy, policyNames, UnknownPolicyError, type PolicyFactory } from './registry.js';
export { KpaPolicy } from './kpa.js';
export { FixedKeepAlivePolicy } from './fixed-keepalive.js';
export { HybridHistogramPolicy, hybridWindows, HYBRID_DEFAULTS } from './hybrid-histogram.js';
export { IdleTimeHistogram } from './idle-time-histogram.js';
export { WindowAverage } from './window-average.js';
export { scaleDelta, pickIdleToStop, type InstanceActivity } from './reconcile.js';
