import { describe, expect, it } from 'vitest';
import { afterRestoreFailure, isMisprediction, monitorModeFor, VersionPolicy } from '../../src/coldstart/policy.js';
import { RestoreCounters } from '../../src/coldstart/stats.js';

describe('cold-start policy', () => {
  it('lazy mode is always served lazily; reap records once, prefetches after, and serves lazily while recording', () => {
    expect(monitorModeFor('lazy', { hasWorkingSet: true, recording: false })).toBe('lazy');
    expect(monitorModeFor('reap', { hasWorkingSet: false, recording: false })).toBe('record');
    expect(monitorModeFor('reap', { hasWorkingSet: false, recording: true })).toBe('lazy');
    expect(monitorModeFor('reap', { hasWorkingSet: true, recording: true })).toBe('prefetch');
  });

  it('a second start during a record phase does not record too, and after release records again', () => {
    const p = new VersionPolicy();
    expect(p.claimMonitorMode('f/1', 'reap', false)).toBe('record');
    expect(p.claimMonitorMode('f/1', 'reap', false)).toBe('lazy');
    expect(p.claimMonitorMode('g/1', 'reap', false)).toBe('record'); // per version
    p.releaseRecording('f/1');
    expect(p.claimMonitorMode('f/1', 'reap', false)).toBe('record');
  });

  it('boot-next after a monitor death is taken exactly once', () => {
    const p = new VersionPolicy();
    expect(p.takeBootNext('f/1')).toBe(false);
    p.markBootNext('f/1');
    expect(p.takeBootNext('f/2')).toBe(false);
    expect(p.takeBootNext('f/1')).toBe(true);
    expect(p.takeBootNext('f/1')).toBe(false);
  });

  it('restores that keep failing: retried twice, the snapshot taken anew on the third, boot only after three more', () => {
    expect([1, 2, 3].map((n) => afterRestoreFailure(n, 0))).toEqual(['retry', 'retry', 'resnapshot']);
    expect([1, 2, 3].map((n) => afterRestoreFailure(n, 1))).toEqual(['retry', 'retry', 'boot-only']);
    const p = new VersionPolicy();
    expect(['a', 'b'].map((w) => p.restoreFailed('f/1', w))).toEqual(['retry', 'retry']);
    p.restoreSucceeded('f/1'); // a success in between: the count starts again
    expect(['c', 'd', 'e'].map((w) => p.restoreFailed('f/1', w))).toEqual(['retry', 'retry', 'resnapshot']);
    expect(p.bootOnly('f/1')).toBeUndefined();
    expect(['f', 'g', 'h'].map((w) => p.restoreFailed('f/1', w))).toEqual(['retry', 'retry', 'boot-only']);
    expect(p.bootOnly('f/1')).toBe('h');
    expect(p.bootOnly('f/2')).toBeUndefined(); // per version: a redeploy starts afresh
  });

  it('a misprediction is more on-demand faults than 30 % of the working set', () => {
    expect(isMisprediction({ wsPages: 100, onDemand: 30 })).toBe(false);
    expect(isMisprediction({ wsPages: 100, onDemand: 31 })).toBe(true);
    expect(isMisprediction({ wsPages: 0, onDemand: 500 })).toBe(false); // nothing was prefetched
  });

  it('restore counters add up per version', () => {
    const c = new RestoreCounters();
    c.add('f/1', { prefetched: 10, onDemand: 2 });
    expect(c.add('f/1', { prefetched: 5 })).toEqual({ restores: 2, prefetched: 15, onDemand: 2 });
    expect(c.add('f/2', {})).toEqual({ restores: 1, prefetched: 0, onDemand: 0 });
  });
});
