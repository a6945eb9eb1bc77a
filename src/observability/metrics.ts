/**
 * A small metrics registry that renders the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). Written here rather than pulled
 * in: the platform needs counters, gauges and histograms with labels, nothing more.
 */
export type Labels = Record<string, string>;

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

abstract class Metric {
  /** Label values joined by NUL (never valid in a label value we emit unescaped) → series state. */
  protected readonly series = new Map<string, { labels: string[] }>();

  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[]) {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith('__') || l === 'le') throw new Error(`invalid label name ${JSON.stringify(l)} on ${name}`);
    }
  }

  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  protected key(labels: Labels | undefined): { key: string; values: string[] } {
    const values = this.labelNames.map((n) => {
      const v = labels?.[n];
      if (v === undefined) throw new Error(`metric ${this.name}: missing label ${n}`);
      return String(v);
    });
    return { key: values.join('\u0000'), values };
  }

  protected labelText(values: string[], extra?: [string, string]): string {
    const parts = this.labelNames.map((n, i) => `${n}="${escapeLabelValue(values[i]!)}"`);
    if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
    return parts.length ? `{${parts.join(',')}}` : '';
  }

  /** Drops one series, e.g. an instance's gauges once the instance is gone. */
  remove(labels: Labels): void {
    this.series.delete(this.key(labels).key);
  }

  /** Drops every series whose labels include all of `match`. */
  removeMatching(match: Labels): void {
    for (const [k, s] of this.series) {
      if (this.labelNames.every((n, i) => match[n] === undefined || match[n] === s.labels[i])) this.series.delete(k);
    }
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`);
    out.push(`# TYPE ${this.name} ${this.type}`);
    this.renderSamples(out);
  }

  protected abstract renderSamples(out: string[]): void;
}

interface ValueSeries {
  labels: string[];
  value: number;
}

export class Counter extends Metric {
  readonly type = 'counter';
  protected declare readonly series: Map<string, ValueSeries>;

  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name}: cannot increase by ${by}`);
    const { key, values } = this.key(labels);
    const s = this.series.get(key);
    if (s) s.value += by;
    else this.series.set(key, { labels: values, value: by });
  }

  get(labels?: Labels): number {
    return this.series.get(this.key(labels).key)?.value ?? 0;
  }

  protected renderSamples(out: string[]): void {
    for (const s of this.series.values()) out.push(`${this.name}${this.labelText(s.labels)} ${formatValue(s.value)}`);
  }
}

export class Gauge extends Metric {
  readonly type = 'gauge';
  protected declare readonly series: Map<string, ValueSeries>;

  set(labels: Labels | undefined, value: number): void {
    const { key, values } = this.key(labels);
    const s = this.series.get(key);
    if (s) s.value = value;
    else this.series.set(key, { labels: values, value });
  }

  inc(labels?: Labels, by = 1): void {
    this.set(labels, this.get(labels) + by);
  }

  dec(labels?: Labels, by = 1): void {
    this.set(labels, this.get(labels) - by);
  }

  get(labels?: Labels): number {
    return this.series.get(this.key(labels).key)?.value ?? 0;
  }

  protected renderSamples(out: string[]): void {
    for (const s of this.series.values()) out.push(`${this.name}${this.labelText(s.labels)} ${formatValue(s.value)}`);
  }
}

interface HistogramSeries {
  labels: string[];
  /** Non-cumulative counts per bucket; rendered cumulatively. Last slot is +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

/** Latency buckets in seconds: 1 ms to 30 s, dense where warm and cold invocations sit. */
export const LATENCY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class Histogram extends Metric {
  readonly type = 'histogram';
  protected declare readonly series: Map<string, HistogramSeries>;
  readonly buckets: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[] = LATENCY_BUCKETS_SECONDS) {
    super(name, help, labelNames);
    const sorted = [...buckets].filter((b) => Number.isFinite(b)).sort((a, b) => a - b);
    if (sorted.length === 0 || sorted.some((b, i) => i > 0 && b === sorted[i - 1])) throw new Error(`histogram ${name}: buckets must be distinct finite numbers`);
    this.buckets = sorted;
  }

  observe(labels: Labels | undefined, value: number): void {
    const { key, values } = this.key(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels: values, counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    let i = 0;
    while (i < this.buckets.length && value > this.buckets[i]!) i++;
    s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  protected renderSamples(out: string[]): void {
    for (const s of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += s.counts[i]!;
        const le = i < this.buckets.length ? formatValue(this.buckets[i]!) : '+Inf';
        out.push(`${this.name}_bucket${this.labelText(s.labels, ['le', le])} ${cumulative}`);
      }
      out.push(`${this.name}_sum${this.labelText(s.labels)} ${formatValue(s.sum)}`);
      out.push(`${this.name}_count${this.labelText(s.labels)} ${s.count}`);
    }
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();
  private readonly collectors: Array<() => void> = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.register(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.register(new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets?: readonly number[]): Histogram {
    return this.register(new Histogram(name, help, labelNames, buckets));
  }

  /** Runs before each render: for gauges read from live state (queue lengths, concurrency) rather than pushed. */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }

  render(): string {
    for (const c of this.collectors) c();
    const out: string[] = [];
    for (const m of this.metrics.values()) m.render(out);
    return out.join('\n') + '\n';
  }

  private register<M extends Metric>(m: M): M {
    if (this.metrics.has(m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.metrics.set(m.name, m);
    return m;
  }
}
