import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS_DIR, catalogue } from '../../src/suite/catalogue.js';

// Deployed folders are self-contained, so shared helpers are copied in (scripts/suite/sync-shared.sh).
// A drifted copy would make one function's input variation differ from the documented one.
describe('shared helper copies', () => {
  const shared = (f: string) => readFileSync(join(FUNCTIONS_DIR, '_shared', f), 'utf8');
  for (const fn of catalogue()) {
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
