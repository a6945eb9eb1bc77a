import { describe, expect, it } from 'vitest';
import { resolveScalingConfig, type ScalingConfig } from '../../src/autoscaler/config.js';
import { FixedKeepAlivePolicy } from '../../src/autoscaler/fixed-keepalive.js';
import { HybridHistogramPolicy, hybridWindows } from '../../src/autoscaler/hybrid-histogram.js';
import { IdleTimeHistogram } from '../../src/autoscaler/idle-time-histogram.js';
import { createPolicy, policyNames, registerPolicy, UnknownPolicyError } from '../../src/autoscaler/registry.js';

const S = 1000;
const MIN = 60_000;
const cfg = (over: Partial<ScalingConfig> = {}): ScalingConfig => ({ ...resolveScalingConfig(undefined, 1), ...over });
const idle = { ready: 0, starting: 0, inFlight: 0 };

describe('fixed keep-alive', () => {
  it('keeps an idle instance exactly keepAliveS after its last use (default 600 s)', () => {
    const p = new FixedKeepAlivePolicy(cfg());
    p.onArrival(0, 0);
    p.record({ at: 1 * S, concurrency: 0.4, peak: 1, requests: 1 });
    const d = p.decide(2 * S, idle);
    expect(d).toMatchObject({ desired: 1, reason: 'keep-alive', keepAliveUntil: 601 * S, wakeAt: 601 * S });
    expect(p.decide(600.999 * S, idle).desired).toBe(1);
    expect(p.decide(601 * S, idle)).toMatchObject({ desired: 0, reason: 'idle', wakeAt: Infinity });
  });

  it('one instance per concurrent request; the peak decays as its keep-alive expires', () => {
    const p = new FixedKeepAlivePolicy(cfg({ keepAliveMs: 100 * S }));
    p.onArrival(0, 0);
    p.onArrival(0, 1);
    p.onArrival(0, 2); // 3 at once
    p.record({ at: 50 * S, concurrency: 1, peak: 1, requests: 1 });
    expect(p.decide(60 * S, idle).desired).toBe(3);
    expect(p.decide(100 * S, idle)).toMatchObject({ desired: 1, keepAliveUntil: 150 * S });
    expect(p.decide(150 * S, idle).desired).toBe(0);
  });

  it('with concurrency 4 per instance, 9 in flight need 3 instances', () => {
    const p = new FixedKeepAlivePolicy(cfg({ concurrency: 4 }));
    p.record({ at: 1 * S, concurrency: 7.5, peak: 9, requests: 9 });
    expect(p.decide(1 * S, idle).desired).toBe(3);
  });
});

describe('idle-time histogram', () => {
  it('bins by minute, counts out of bounds, finds percentile bins', () => {
    const h = new IdleTimeHistogram();
    for (const m of [0.5, 1.5, 1.7, 3.2]) h.add(m * MIN);
    h.add(5 * 3600_000);
    expect(h.bins.length).toBe(240);
    expect([h.bins[0], h.bins[1], h.bins[3], h.inBounds, h.outOfBounds]).toEqual([1, 2, 1, 4, 1]);
    expect(h.percentileBin(0.05)).toBe(0);
    expect(h.percentileBin(0.5)).toBe(1);
    expect(h.percentileBin(0.99)).toBe(3);
  });

  it('CV of bin counts: one full bin → sqrt(239); flat → 0', () => {
    const one = new IdleTimeHistogram();
    for (let i = 0; i < 10; i++) one.add(9.5 * MIN);
    expect(one.binCountCv()).toBeCloseTo(Math.sqrt(239), 9);
    const flat = new IdleTimeHistogram();
    for (let b = 0; b < 240; b++) flat.add((b + 0.5) * MIN);
    expect(flat.binCountCv()).toBe(0);
  });
});

describe('hybrid histogram windows', () => {
  it('representative: pre-warm = 5th pct × 0.9, keep until 99th pct (bin upper edge) × 1.1', () => {
    const h = new IdleTimeHistogram();
    for (let i = 0; i < 10; i++) h.add(9.5 * MIN);
    const w = hybridWindows(h, 0);
    expect(w.mode).toBe('histogram');
    expect(w.prewarmMs).toBeCloseTo(9 * MIN * 0.9, 6);
    expect(w.keepAliveEndMs).toBeCloseTo(10 * MIN * 1.1, 6);
  });
  it('too few observations or a flat pattern → fixed 4 h keep-alive, no pre-warm', () => {
    const few = new IdleTimeHistogram();
    for (let i = 0; i < 4; i++) few.add(9.5 * MIN);
    expect(hybridWindows(few, 0)).toEqual({ mode: 'fixed', prewarmMs: 0, keepAliveEndMs: 4 * 3600_000 });
    const flat = new IdleTimeHistogram();
    for (let b = 0; b < 240; b++) flat.add((b + 0.5) * MIN);
    expect(hybridWindows(flat, 0).mode).toBe('fixed');
  });
  it('mostly out of bounds → forecast window [0.85, 1.15] × forecast', () => {
    const h = new IdleTimeHistogram();
    h.add(MIN);
    h.add(5 * 3600_000);
    h.add(6 * 3600_000);
    expect(hybridWindows(h, 6 * 3600_000)).toEqual({ mode: 'forecast', prewarmMs: 0.85 * 6 * 3600_000, keepAliveEndMs: 1.15 * 6 * 3600_000 });
  });
});

describe('hybrid histogram policy', () => {
  it('learns a 10-minute period: unloads after use, pre-warms just before the next arrival', () => {
    const p = new HybridHistogramPolicy(cfg());
    // before enough idle times: fixed 4 h keep-alive from the last activity
    p.onArrival(0, 0);
    p.onArrival(10 * MIN, 0);
    // an arrival since the last decision counts as busy (its instance must not be reclaimed)
    expect(p.decide(10 * MIN, idle).reason).toBe('busy');
    expect(p.decide(10 * MIN + 5 * S, idle)).toMatchObject({ desired: 1, reason: 'keep-alive', keepAliveUntil: 10 * MIN + 4 * 3600_000 });
    for (let k = 2; k <= 5; k++) p.onArrival(k * 10 * MIN, 0); // 5 idle times of exactly 10 min → bin 10
    expect(p.currentWindows().mode).toBe('histogram');
    const s = 50 * MIN;
    expect(p.decide(s, idle).reason).toBe('busy');
    const unloaded = p.decide(s + 2 * S, idle);
    expect(unloaded).toMatchObject({ desired: 0, reason: 'unloaded', prewarmAt: s + 9 * MIN });
    expect(p.decide(s + 9 * MIN - 1, idle).desired).toBe(0);
    expect(p.decide(s + 9 * MIN, idle)).toMatchObject({ desired: 1, reason: 'pre-warm', wakeAt: s + 12.1 * MIN });
    expect(p.decide(s + 12.1 * MIN, idle).desired).toBe(0);
  });

  it('keeps the peak need of its keep-alive window (no pre-warm), at least one instance', () => {
    const p = new HybridHistogramPolicy(cfg());
    p.onArrival(0, 0);
    p.onArrival(0, 1);
    p.onArrival(0, 2);
    p.record({ at: 1 * S, concurrency: 2.5, peak: 3, requests: 3 });
    p.decide(1 * S, idle);
    // fixed mode (no history): 3 instances stay for the 4 h window after their last use (1 s)
    expect(p.decide(60 * S, idle)).toMatchObject({ desired: 3, reason: 'keep-alive', wakeAt: 1 * S + 4 * 3600_000 });
    expect(p.decide(1 * S + 4 * 3600_000, idle).desired).toBe(0);
  });

  it('keeps one instance per concurrent request while busy', () => {
    const p = new HybridHistogramPolicy(cfg());
    p.onArrival(0, 0);
    p.onArrival(0, 1);
    expect(p.decide(1 * S, { ready: 2, starting: 0, inFlight: 2 })).toMatchObject({ desired: 2, reason: 'busy' });
  });
});

describe('policy registry', () => {
  it('creates the three built-in policies by name and accepts a researcher-added one', () => {
    expect(policyNames()).toEqual(expect.arrayContaining(['kpa', 'fixed-keepalive', 'hybrid-histogram']));
    expect(createPolicy(cfg(), 'hybrid-histogram').name).toBe('hybrid-histogram');
    expect(createPolicy(cfg({ policy: 'fixed-keepalive' })).name).toBe('fixed-keepalive');
    expect(() => createPolicy(cfg(), 'nope')).toThrow(UnknownPolicyError);
    registerPolicy('always-two', (c) => ({
      name: 'always-two',
      record() {},
      onArrival() {},
      decide: () => ({ desired: Math.min(2, c.maxScale || 2), panic: false, reason: 'fixed', wakeAt: Infinity }),
    }));
    expect(createPolicy(cfg(), 'always-two').decide(0, idle).desired).toBe(2);
  });
});
