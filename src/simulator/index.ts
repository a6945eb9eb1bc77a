export { simulateTrace, comparePolicies, type SimulationOptions, type SimulationResult } from './simulate.js';
export { formatComparison, summary, medianFunctionColdPct } from './report.js';
export type { ArrivalSpread } from './arrivals.js';
