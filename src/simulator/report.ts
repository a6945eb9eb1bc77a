import type { SimulationResult } from './simulate.js';

/** The `--json` shape of `hivelab simulate` (one object per policy). */
export function summary(r: SimulationResult): {
  policy: string;
  functions: number;
  invocations: number;
  coldStartPct: number;
  idleMemoryGBs: number;
  simulatedSeconds: number;
  wallSeconds: number;
} {
  return {
    policy: r.policy,
    functions: r.functions,
    invocations: r.invocations,
    coldStartPct: r.coldStartPct,
    idleMemoryGBs: r.idleMemoryGBs,
    simulatedSeconds: r.simulatedSeconds,
    wallSeconds: r.wallSeconds,
  };
}

/** Median over functions of each function's cold-start percentage (functions with invocations only). */
export function medianFunctionColdPct(r: SimulationResult): number {
  const xs: number[] = [];
  for (let i = 0; i < r.functions; i++) {
    const n = r.perFunctionInvocations[i]!;
    if (n > 0) xs.push((100 * r.perFunctionColdStarts[i]!) / n);
  }
  if (xs.length === 0) return 0;
  xs.sort((a, b) => a - b);
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padEnd(n) : s.padStart(n);
}

/** A plain-text comparison table, one row per policy. */
export function formatComparison(results: SimulationResult[]): string {
  const head = ['policy', 'invocations', 'cold %', 'median fn cold %', 'idle GB·s', 'wasted %', 'avg inst', 'peak inst', 'speed ×'];
  const rows = results.map((r) => {
    let peak = 0;
    let sum = 0;
    for (const x of r.instancesPerMinute) {
      sum += x;
      if (x > peak) peak = x;
    }
    const wasted = (100 * r.idleMemoryGBs) / Math.max(1e-9, r.idleMemoryGBs + r.busyMemoryGBs);
    return [
      r.policy,
      String(r.invocations),
      r.coldStartPct.toFixed(2),
      medianFunctionColdPct(r).toFixed(1),
      r.idleMemoryGBs.toFixed(0),
      wasted.toFixed(1),
      (sum / Math.max(1, r.instancesPerMinute.length)).toFixed(0),
      String(peak),
      (r.simulatedSeconds / Math.max(1e-9, r.wallSeconds)).toFixed(0),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => pad(c, widths[i]!, i === 0)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
