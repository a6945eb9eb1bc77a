import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS_DIR, catalogue } from '../../src/suite/catalogue.js';

// Deployed folders are self-contained, so shared helpers are copied in (scripts/suite/sync-shared.sh).
// A drifted copy would make one function's input variation differ from the documented one.
describe('shared helper copies', () => {
  const shared = (f: string) => readFileSync(join(FUNCTIONS_DIR, '_shared', f), 'utf8');
  for (const fn of catalogue().filter((f) => !f.grpc)) {
    it(`${fn.name} carries the current inputmode helper`, () => {
      const file = fn.runtime === 'node' ? 'inputmode.mjs' : 'inputmode.py';
      expect(readFileSync(join(fn.dir, file), 'utf8')).toBe(shared(file));
    });
  }
  for (const name of ['lr-training', 'lr-serving']) {
    it(`${name} carries the current review generator`, () => {
      expect(readFileSync(join(FUNCTIONS_DIR, name, 'reviews.py'), 'utf8')).toBe(shared('reviews.py'));
    });
  }
});

describe('input variation (functions/README.md)', () => {
  type Pick = { mode: string; index: number; seed: number; pooled: boolean };
  const helper = join(FUNCTIONS_DIR, '_shared');

  async function nodePicks(events: object[]): Promise<Pick[]> {
    // A fresh module instance per call: the invocation counter is per instance, like a new sandbox.
    const mod = (await import(`${pathToFileURL(join(helper, 'inputmode.mjs')).href}?t=${Math.random()}`)) as {
      pickInput: (e: object, c: object) => Pick;
    };
    return events.map((e, i) => mod.pickInput(e, { invocationId: `inv-${i}` }));
  }

  function pythonPicks(events: object[]): Pick[] {
    const code = 'import json,sys,inputmode\nfor i,e in enumerate(json.load(sys.stdin)): print(json.dumps(inputmode.pick_input(e, {"invocationId": f"inv-{i}"})))';
    const out = execFileSync('/usr/bin/python3', ['-c', code], { cwd: helper, input: JSON.stringify(events), env: { PYTHONDONTWRITEBYTECODE: '1' }, stdio: ['pipe', 'pipe', 'ignore'] });
    return out.toString().trim().split('\n').map((l) => JSON.parse(l) as Pick);
  }

  const modes = (mode: string, n: number, extra: object = {}) => Array.from({ length: n }, () => ({ inputMode: mode, ...extra }));

  for (const [runtime, picks] of [
    ['node', nodePicks],
    ['python', async (e: object[]) => pythonPicks(e)],
  ] as const) {
    it(`${runtime}: same, linear, random, unique and a forced index behave as documented`, async () => {
      expect((await picks(modes('same', 3))).map((p) => p.index)).toEqual([0, 0, 0]);
      expect((await picks(modes('linear', 6))).map((p) => p.index)).toEqual([0, 1, 2, 3, 0, 1]);
      const random = await picks(modes('random', 40));
      expect(random.every((p) => p.pooled && p.index >= 0 && p.index < 4)).toBe(true);
      expect(new Set(random.map((p) => p.index)).size).toBeGreaterThan(1);
      const unique = await picks(modes('unique', 20));
      expect(unique.every((p) => !p.pooled && p.index >= 4)).toBe(true);
      expect(new Set(unique.map((p) => p.index)).size).toBe(20);
      expect(new Set(unique.map((p) => p.seed)).size).toBe(20);
      expect((await picks([{ inputMode: 'random', index: 7 }]))[0]!.index).toBe(7);
      await expect(picks([{ inputMode: 'sometimes' }])).rejects.toThrow();
    });
  }

  it('both runtimes derive the same seed for a variant, so "seed" means the same in either', async () => {
    const events = [0, 1, 2, 3].map((index) => ({ index, seed: 42 }));
    expect(pythonPicks(events).map((p) => p.seed)).toEqual((await nodePicks(events)).map((p) => p.seed));
  });
});
