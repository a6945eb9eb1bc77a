/**
 * xdt-bench's figures: per pattern, median latency and effective bandwidth against object size, one
 * line per transport (dashes tell degrees apart). Rendered offline by the bench kit's plotting
 * (vega-lite → SVG → PNG with resvg), so they can go straight into a paper.
 */
import { mkdir } from 'node:fs/promises';
import type { TopLevelSpec } from 'vega-lite';
import { writePlot } from '../plots.js';
import type { BenchRow } from './standalone.js';

function spec(rows: BenchRow[], title: string, field: 'latency' | 'bandwidth'): TopLevelSpec {
  const values = rows.map((r) => ({
    sizeMB: r.sizeBytes / 1e6,
    value: field === 'latency' ? r.latencyMs.median : r.effectiveMBps,
    transport: r.transport,
    degree: `x${r.degree}`,
  }));
  return {
    title,
    width: 520,
    height: 300,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'sizeMB', type: 'quantitative', title: 'object size (MB)', scale: { type: 'log' } },
      y: {
        field: 'value',
        type: 'quantitative',
        title: field === 'latency' ? 'median latency (ms)' : 'effective bandwidth (MB/s)',
        scale: { type: field === 'latency' ? 'log' : 'linear' },
      },
      color: { field: 'transport', type: 'nominal', title: 'transport' },
      strokeDash: { field: 'degree', type: 'nominal', title: 'degree' },
    },
  };
}

/** Writes `<pattern>-latency.{svg,png}` and `<pattern>-bandwidth.{svg,png}` for every pattern in `rows`; returns the names. */
export async function writeTransferPlots(dir: string, rows: BenchRow[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const pattern of [...new Set(rows.map((r) => r.pattern))]) {
    const mine = rows.filter((r) => r.pattern === pattern && r.latencyMs.median > 0);
    if (mine.length === 0) continue;
    for (const field of ['latency', 'bandwidth'] as const) {
      const name = `${pattern}-${field}`;
      await writePlot(dir, name, spec(mine, `${pattern}: ${field === 'latency' ? 'latency' : 'bandwidth'} against size`, field));
      written.push(name);
    }
  }
  return written;
}
