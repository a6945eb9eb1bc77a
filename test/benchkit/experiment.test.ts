import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExperimentError, loadExperiment, parseExperiment, resolvePathsFrom } from '../../src/benchkit/experiment.js';
import { scratchDir } from '../helpers/scratch.js';

const ok = { provider: 'endpoints', subExperiments: [{ title: 'warm', bursts: 3, iatSeconds: 1, endpoints: ['http://127.0.0.1:1/'] }] };

function rejects(raw: unknown): string {
  try {
    parseExperiment(raw, 'exp.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ExperimentError);
    return (e as Error).message;
  }
  throw new Error('accepted an invalid experiment');
}

describe('experiment files', () => {
  it('fills STeLLAR defaults', () => {
    const e = parseExperiment(ok);
    expect(e.sequential).toBe(true);
    expect(e.maxSendLagP99Ms).toBe(1);
    const s = e.subExperiments[0]!;
    expect(s).toMatchObject({ function: 'bench-spin', burstSizes: [1], iatType: 'fixed', serviceTimes: [0], chainLength: 1, transfer: 'inline', replicas: 1, warmup: 0 });
  });

  it('rejects bad fields naming their path', () => {
    expect(rejects({ ...ok, provider: 'lambda' })).toMatch(/provider: Invalid enum value/);
    expect(rejects({ provider: 'endpoints', subExperiments: [{ ...ok.subExperiments[0], iatType: 'poisson' }] })).toMatch(/subExperiments\[0\]\.iatType/);
    expect(rejects({ provider: 'endpoints', subExperiments: [ok.subExperiments[0], { title: 'b', bursts: 0, iatSeconds: 1 }] })).toMatch(/subExperiments\[1\]\.bursts: Number must be greater than or equal to 1/);
    expect(rejects({ provider: 'endpoints', subExperiments: [{ ...ok.subExperiments[0], burstSizes: [1, -2] }] })).toMatch(/subExperiments\[0\]\.burstSizes\[1\]/);
    expect(rejects({ provider: 'endpoints', subExperiments: [{ ...ok.subExperiments[0], iatSecnds: 3 }] })).toMatch(/subExperiments\[0\]: Unrecognized key\(s\) in object: 'iatSecnds'/);
    expect(rejects({ provider: 'endpoints', subExperiments: [{ ...ok.subExperiments[0], transfer: 'xdt' }] })).toMatch(/subExperiments\[0\]\.transfer: needs chainLength > 1/);
    expect(rejects({ provider: 'hivelab', subExperiments: ok.subExperiments })).toMatch(/subExperiments\[0\]\.endpoints: only for provider "endpoints"/);
    expect(rejects({ provider: 'endpoints', subExperiments: [{ ...ok.subExperiments[0], endpoints: ['not a url'] }] })).toMatch(/subExperiments\[0\]\.endpoints\[0\]: Invalid url/);
    expect(rejects({ ...ok, baseline: 'nope' })).toMatch(/baseline: no sub-experiment titled "nope"/);
    expect(rejects({ provider: 'endpoints', subExperiments: [] })).toMatch(/subExperiments: Array must contain at least 1/);
    expect(rejects({ provider: 'endpoints', subExperiments: [{ ...ok.subExperiments[0], iatType: 'shifted-exponential', iatShiftSeconds: 2 }] })).toMatch(/subExperiments\[0\]\.iatShiftSeconds: must be below iatSeconds/);
  });

  it('loads YAML and JSON, and names the file on syntax errors', async () => {
    const dir = await scratchDir('bk-exp-');
    await writeFile(join(dir, 'a.yaml'), 'provider: endpoints\nsubExperiments:\n  - title: warm\n    bursts: 2\n    iatSeconds: 0.5\n    endpoints: [http://127.0.0.1:9/]\n');
    expect((await loadExperiment(join(dir, 'a.yaml'))).subExperiments[0]!.bursts).toBe(2);
    await writeFile(join(dir, 'b.json'), JSON.stringify(ok));
    expect((await loadExperiment(join(dir, 'b.json'))).provider).toBe('endpoints');
    await writeFile(join(dir, 'c.json'), '{"provider": ');
    await expect(loadExperiment(join(dir, 'c.json'))).rejects.toThrow(/c\.json: not valid JSON/);
    await writeFile(join(dir, 'd.yaml'), 'provider: endpoints\nsubExperiments:\n  - title: x\n    bursts: two\n    iatSeconds: 1\n');
    await expect(loadExperiment(join(dir, 'd.yaml'))).rejects.toThrow(/d\.yaml is invalid:\n {2}subExperiments\[0\]\.bursts: Expected number, received string/);
  });

  it('every example experiment in experiments/ is valid', async () => {
    const dir = join(import.meta.dirname, '..', '..', 'experiments');
    const files = (await readdir(dir)).filter((f) => /\.(ya?ml|json)$/.test(f));
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const f of files) await expect(loadExperiment(join(dir, f)), f).resolves.toBeTruthy();
  });

  it("a gRPC sub-experiment's proto is relative to the file, for `hivelab bench` as for loadExperiment", async () => {
    const dir = await scratchDir('bk-exp-grpc-');
    const raw = { provider: 'endpoints', subExperiments: [{ ...ok.subExperiments[0], grpc: { proto: 'p/x.proto', method: 'a.B/C' } }] };
    await writeFile(join(dir, 'e.json'), JSON.stringify(raw));
    expect((await loadExperiment(join(dir, 'e.json'))).subExperiments[0]!.grpc!.proto).toBe(join(dir, 'p/x.proto'));
    // what the bench command does: it parses the raw file itself (to tell STeLLAR files apart), then resolves
    expect(resolvePathsFrom(parseExperiment(raw, 'x'), join(dir, 'e.json')).subExperiments[0]!.grpc!.proto).toBe(join(dir, 'p/x.proto'));
  });
});
