import { describe, it, expect } from 'vitest';
import { MetricsRegistry } from '../../src/observability/metrics.js';
import { PlatformMetrics } from '../../src/observability/platform-metrics.js';
import { RollingWindow } from '../../src/observability/rolling-window.js';

interface Sample { name: string; labels: Record<string, string>; value: number }
interface Family { type: string; help: string; samples: Sample[] }

/**
 * A strict reader of the Prometheus text format 0.0.4: every line must be a HELP, TYPE or sample
 * line in the grammar, samples must follow their family's TYPE, label values must be properly
 * escaped, histogram buckets must be cumulative and end in +Inf equal to _count.
 */
function parseExposition(text: string): Map<string, Family> {
  expect(text.endsWith('\n')).toBe(true);
  const families = new Map<string, Family>();
  let current: string | undefined;
  const unescape = (s: string, label: boolean) => s.replace(label ? /\\(["\\n])/g : /\\([\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
  for (const line of text.slice(0, -1).split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) ((?:[^\\\n]|\\[\\n])*)$/.exec(line))) {
      expect(families.has(m[1]!), `duplicate family ${m[1]}`).toBe(false);
      families.set(m[1]!, { type: '', help: unescape(m[2]!, false), samples: [] });
      current = m[1]!;
    } else if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      expect(m[1]).toBe(current);
      families.get(m[1]!)!.type = m[2]!;
    } else if ((m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"(?:,|(?=\})))*)\})? (\S+)$/.exec(line))) {
      const [, name, labelText, valueText] = m;
      const fam = families.get(current!)!;
      expect(fam.type, `sample ${name} before TYPE`).not.toBe('');
      const suffixOk = name === current || (fam.type === 'histogram' && [`${current}_bucket`, `${current}_sum`, `${current}_count`].includes(name!));
      expect(suffixOk, `sample ${name} outside family ${current}`).toBe(true);
      expect(valueText).toMatch(/^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/);
      const labels: Record<string, string> = {};
      for (const lm of (labelText ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"/g)) labels[lm[1]!] = unescape(lm[2]!, true);
      const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
      fam.samples.push({ name: name!, labels, value });
    } else {
      throw new Error(`not a valid exposition line: ${JSON.stringify(line)}`);
    }
  }
  for (const [name, fam] of families) {
    if (fam.type !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const s of fam.samples.filter((x) => x.name === `${name}_bucket`)) {
      const { le, ...rest } = s.labels;
      expect(le).toBeDefined();
      const k = JSON.stringify(rest);
      series.set(k, [...(series.get(k) ?? []), s]);
    }
    for (const [k, buckets] of series) {
      const les = buckets.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
      expect(les[les.length - 1]).toBe(Infinity);
      for (let i = 1; i < buckets.length; i++) {
        expect(les[i]).toBeGreaterThan(les[i - 1]!);
        expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
      }
      const count = fam.samples.find((s) => s.name === `${name}_count` && JSON.stringify(s.labels) === k)!;
      expect(count.value).toBe(buckets[buckets.length - 1]!.value);
    }
  }
  return families;
}

describe('Prometheus exposition', () => {
  it('renders platform metrics that a strict parser accepts, with the recorded values', () => {
    const m = new PlatformMetrics();
    m.recordInvocation('hello', 'hello-1', 3, 'ok', true);
    m.recordInvocation('hello', 'hello-1', 7);
    m.recordInvocation('hello', 'hello-2', 2000, 'timeout');
    m.recordColdStart('hello', 'reap', 120);
    m.setConcurrency('hello', 'hello-1', 2);
    m.setQueueLength('hello', 5);
    m.recordScaling('hello', { desired: 4, actual: 2, panic: true });
    m.recordScaling('hello', { desired: 2, actual: 3, panic: false });
    const fams = parseExposition(m.registry.render());
    expect(fams.get('hivelab_invocations_total')!.type).toBe('counter');
    const inv = fams.get('hivelab_invocations_total')!.samples;
    expect(inv.find((s) => s.labels.instance === 'hello-1' && s.labels.cold === '0')!.value).toBe(1);
    expect(inv.reduce((a, s) => a + s.value, 0)).toBe(3);
    expect(m.invocationCount('hello')).toBe(3);
    const dur = fams.get('hivelab_invocation_duration_seconds')!;
    expect(dur.type).toBe('histogram');
    const warm = dur.samples.filter((s) => s.labels.cold === '0');
    expect(warm.find((s) => s.name.endsWith('_bucket') && s.labels.le === '0.01')!.value).toBe(1);
    expect(warm.find((s) => s.name.endsWith('_count'))!.value).toBe(2);
    expect(warm.find((s) => s.name.endsWith('_sum'))!.value).toBeCloseTo(2.007, 6);
    expect(fams.get('hivelab_cold_starts_total')!.samples[0]).toMatchObject({ labels: { function: 'hello', mode: 'reap' }, value: 1 });
    expect(fams.get('hivelab_activator_queue_length')!.samples[0]!.value).toBe(5);
    expect(fams.get('hivelab_autoscaler_panic')!.samples[0]!.value).toBe(0);
    expect(fams.get('hivelab_scaling_decisions_total')!.samples.map((s) => [s.labels.direction, s.value]).sort()).toEqual([['down', 1], ['up', 1]]);
    m.instanceGone('hello', 'hello-1');
    expect(parseExposition(m.registry.render()).get('hivelab_instance_concurrency')!.samples).toEqual([]);
  });

  it('escapes label values and help text, and renders special values', () => {
    const r = new MetricsRegistry();
    const g = r.gauge('odd_values', 'Help with a backslash \\ and\na newline.', ['name']);
    const nasty = 'quote " backslash \\ newline \n end';
    g.set({ name: nasty }, NaN);
    g.set({ name: 'inf' }, Infinity);
    r.counter('plain_total', 'No labels.').inc();
    let collected = 0;
    r.onCollect(() => g.set({ name: 'collected' }, ++collected));
    const fams = parseExposition(r.render());
    expect(fams.get('odd_values')!.help).toBe('Help with a backslash \\ and\na newline.');
    const samples = fams.get('odd_values')!.samples;
    expect(samples.find((s) => s.labels.name === nasty)!.value).toBeNaN();
    expect(samples.find((s) => s.labels.name === 'inf')!.value).toBe(Infinity);
    expect(samples.find((s) => s.labels.name === 'collected')!.value).toBe(1);
    expect(fams.get('plain_total')!.samples).toEqual([{ name: 'plain_total', labels: {}, value: 1 }]);
    expect(() => r.gauge('bad-name', 'x')).toThrow();
    expect(() => r.gauge('x', 'x', ['le'])).toThrow();
    expect(() => r.counter('plain_total', 'again')).toThrow();
    expect(() => g.set({}, 1)).toThrow(/missing label/);
  });
});

describe('rolling window', () => {
  it('reports rate and the platform percentiles (interpolated) over the window, forgetting old seconds', () => {
    const w = new RollingWindow(10);
    const t0 = 1_700_000_000_000;
    for (let i = 1; i <= 100; i++) w.record(i, i === 100, t0 + (i % 5) * 1000);
    const s = w.stats(t0 + 5000);
    // 1..100: type-7 p50 = 50.5, p99 = 99.01 (nearest rank would say 50 and 99).
    expect(s).toMatchObject({ count: 100, rps: 10, errors: 1, p50Ms: 50.5 });
    expect(s.p99Ms).toBeCloseTo(99.01, 9);
    // 12 s later only the newest seconds are gone; 20 s later everything is.
    expect(w.stats(t0 + 12_000).count).toBe(40);
    expect(w.stats(t0 + 20_000)).toMatchObject({ count: 0, p50Ms: null, p99Ms: null });
    // A bucket reused for a new second starts empty.
    w.record(5, false, t0 + 10_000);
    expect(w.stats(t0 + 10_000).count).toBe(80 + 1);
  });
});
