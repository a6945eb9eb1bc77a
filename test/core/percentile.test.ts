import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { percentile } from '../../src/core/percentile.js';
import { latencyStatistics } from '../../src/benchkit/statistics.js';
import { summarize } from '../../src/benchkit/coldstart/summary.js';
import { RollingWindow } from '../../src/observability/rolling-window.js';

const SRC = join(import.meta.dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.(ts|cts|mts)$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

describe('the one percentile (linear interpolation between closest ranks, type 7)', () => {
  it('matches hand-computed values where nearest rank differs', () => {
    // nearest rank: 2, 4, 4 — interpolation: 2.5, 3.97, 3.25
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([1, 2, 3, 4], 99)).toBeCloseTo(3.97, 12);
    expect(percentile([1, 2, 3, 4], 75)).toBe(3.25);
    // h = 9 · 0.9 = 8.1 → 9 + 0.1 · (100 − 9)
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 100], 90)).toBeCloseTo(18.1, 12);
  });

  it('is the minimum at p0 and the maximum at p100, the only value of a one-element sample, NaN when empty', () => {
    expect(percentile([3, 7, 9], 0)).toBe(3);
    expect(percentile([3, 7, 9], 100)).toBe(9);
    expect(percentile([42], 99)).toBe(42);
    expect(percentile([], 50)).toBeNaN();
  });

  it('is what every printed percentile uses: the benchmark kit, the cold-start study and the live window agree', () => {
    const sample = [4, 1, 3, 2];
    const sorted = [1, 2, 3, 4];
    const kit = latencyStatistics(sample);
    expect([kit.p50, kit.p99]).toEqual([percentile(sorted, 50), percentile(sorted, 99)]);
    const study = summarize(sample);
    expect([study.median, study.p99]).toEqual([percentile(sorted, 50), percentile(sorted, 99)]);
    const w = new RollingWindow(10);
    const t = 1_700_000_000_000;
    for (const x of sample) w.record(x, false, t);
    const live = w.stats(t);
    expect([live.p50Ms, live.p99Ms]).toEqual([percentile(sorted, 50), percentile(sorted, 99)]);
  });

  it('is defined once: no other percentile or quantile function in src/', () => {
    // The one exception: STeLLAR's own result files are written with STeLLAR's own definition
    // (gonum's Empirical quantile), so STeLLAR's plotting scripts read what STeLLAR would write.
    const foreignFormats = ['benchkit/stellar/results.ts: an inline nearest rank'];
    const others: string[] = [];
    for (const f of sourceFiles(SRC)) {
      const rel = relative(SRC, f);
      if (rel === join('core', 'percentile.ts')) continue;
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/(?:function\s+|const\s+)(\w+)\s*(?:=\s*\(|\()/g)) {
        if (/^(percentile|quantile|nearestRank)s?$/i.test(m[1]!)) others.push(`${rel}: ${m[1]}`);
      }
      // a nearest rank computed in place: ceil(q · n)
      if (/Math\.ceil\([^;]*\*\s*\w+\.length/.test(text)) others.push(`${rel}: an inline nearest rank`);
    }
    expect(others.filter((o) => !foreignFormats.includes(o))).toEqual([]);
  });
});
