import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { percentile } from './statistics.js';

/**
 * Plots rendered offline: vega-lite compiles the spec, vega renders SVG headless, resvg rasterises
 * it to PNG. resvg ships no fonts and must not fetch any, so it gets a system TTF (DejaVu Sans on
 * Debian, package fonts-dejavu-core); without one, text would silently vanish from the PNGs.
 */
const FONT_CANDIDATES = [
  process.env.HIVELAB_PLOT_FONT,
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/TTF/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf',
];

export function plotFont(): string {
  const f = FONT_CANDIDATES.find((p): p is string => !!p && existsSync(p));
  if (!f) throw new Error('no TTF font for plots: install fonts-dejavu-core or set HIVELAB_PLOT_FONT=/path/to/font.ttf');
  return f;
}

const FONT_FAMILY = 'DejaVu Sans';

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = vl.compile({ config: { font: FONT_FAMILY, background: 'white' }, ...spec } as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export function svgToPng(svg: string): Buffer {
  return new Resvg(svg, {
    font: { fontFiles: [plotFont()], loadSystemFonts: false, defaultFontFamily: FONT_FAMILY, sansSerifFamily: FONT_FAMILY },
    background: 'white',
    fitTo: { mode: 'zoom', value: 2 },
  })
    .render()
    .asPng();
}

/** Writes `<dir>/<name>.svg` and `.png`; returns the SVG (report.html inlines it). */
export async function writePlot(dir: string, name: string, spec: TopLevelSpec): Promise<string> {
  const svg = await renderSvg(spec);
  await writeFile(join(dir, `${name}.svg`), svg);
  await writeFile(join(dir, `${name}.png`), svgToPng(svg));
  return svg;
}

/** CDF points: every sample up to 1000, else 1000 evenly spaced quantiles (the plot looks the same). */
export function cdfPoints(latenciesMs: readonly number[], maxPoints = 1000): { latencyMs: number; fraction: number }[] {
  const xs = [...latenciesMs].sort((a, b) => a - b);
  if (xs.length <= maxPoints) return xs.map((x, i) => ({ latencyMs: x, fraction: (i + 1) / xs.length }));
  const out = [];
  for (let i = 1; i <= maxPoints; i++) out.push({ latencyMs: percentile(xs, (100 * i) / maxPoints), fraction: i / maxPoints });
  return out;
}

const W = 520;
const H = 300;

/** Below this a latency is drawn at it on a log axis (a log scale has no zero). */
export const LOG_AXIS_FLOOR_MS = 0.01;

/**
 * `logX`: a log latency axis, as STeLLAR's plots use — on a linear one a single slow
 * sub-experiment (seconds of cold starts) squeezes every warm one (milliseconds) against the left edge.
 */
export function cdfSpec(series: { title: string; latenciesMs: readonly number[] }[], title = 'Latency CDF', opts: { logX?: boolean } = {}): TopLevelSpec {
  const values = series.flatMap((s) =>
    cdfPoints(s.latenciesMs).map((p) => ({ ...p, latencyMs: opts.logX ? Math.max(LOG_AXIS_FLOOR_MS, p.latencyMs) : p.latencyMs, series: s.title })),
  );
  return {
    title,
    width: W,
    height: H,
    data: { values },
    mark: { type: 'line', interpolate: 'step-after' },
    encoding: {
      x: { field: 'latencyMs', type: 'quantitative', title: opts.logX ? 'latency (ms, log scale)' : 'latency (ms)', scale: opts.logX ? { type: 'log' } : { zero: false } },
      y: { field: 'fraction', type: 'quantitative', title: 'fraction of requests', scale: { domain: [0, 1] } },
      color: { field: 'series', type: 'nominal', title: null, legend: series.length > 1 ? { orient: 'bottom-right' } : null },
    },
  };
}

export function histogramSpec(latenciesMs: readonly number[], title = 'Latency histogram'): TopLevelSpec {
  // Cap the inlined sample: the histogram's shape needs a few thousand points, not 100k.
  const step = Math.max(1, Math.ceil(latenciesMs.length / 5000));
  const values = latenciesMs.filter((_, i) => i % step === 0).map((latencyMs) => ({ latencyMs }));
  return {
    title,
    width: W,
    height: H,
    data: { values },
    mark: 'bar',
    encoding: {
      x: { field: 'latencyMs', type: 'quantitative', bin: { maxbins: 50 }, title: 'latency (ms)' },
      y: { aggregate: 'count', type: 'quantitative', title: 'requests' },
    },
  };
}

export interface BurstBar {
  burstId: number;
  p50Ms: number;
  maxMs: number;
  /** Cold responses in the burst, out of `size`. */
  cold: number;
  size: number;
}

const burstKind = (b: BurstBar, size: number): string => (b.cold === 0 ? 'all warm' : b.cold >= size ? 'all cold' : 'some cold');

/** Per-burst bars: each burst's median latency, a tick at its slowest request, coloured warm/cold. */
export function burstBarsSpec(bars: readonly BurstBar[], title = 'Latency per burst'): TopLevelSpec {
  return {
    title,
    width: W,
    height: H,
    data: { values: bars.map((b) => ({ ...b, kind: burstKind(b, b.size) })) },
    layer: [
      {
        mark: 'bar',
        encoding: {
          x: { field: 'burstId', type: 'ordinal', title: 'burst', axis: bars.length > 40 ? { labels: false, ticks: false } : {} },
          y: { field: 'p50Ms', type: 'quantitative', title: 'median latency (ms), tick = max' },
          color: { field: 'kind', type: 'nominal', title: null, scale: { domain: ['all warm', 'some cold', 'all cold'], range: ['#4c78a8', '#f58518', '#54a24b'] } },
        },
      },
      {
        mark: { type: 'tick', color: '#c0392b' },
        encoding: { x: { field: 'burstId', type: 'ordinal' }, y: { field: 'maxMs', type: 'quantitative' } },
      },
    ],
  };
}
