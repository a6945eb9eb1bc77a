#!/usr/bin/env node
// Same-run A/B of the boot cold start between two built trees (e.g. the bubblewrap sandbox of an
// older commit against this tree's hivelab-sandbox): runs each tree's bench/boot-coldstart.mjs in
// alternating rounds so machine load hits both alike, and reports per-round medians and their median.
// Usage: node bench/sandbox-ab.mjs --a /path/to/old/tree [--b .] [--rounds 4] [--n 10]
//   (build the old tree first: git archive <commit> | tar -x -C DIR; ln -s $PWD/node_modules DIR/;
//    cd DIR && npx tsc -p tsconfig.json && node scripts/copy-assets.mjs)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { a: { type: 'string' }, b: { type: 'string', default: '.' }, rounds: { type: 'string', default: '4' }, n: { type: 'string', default: '10' } },
});
if (!values.a) {
  console.error('usage: node bench/sandbox-ab.mjs --a OLD_TREE [--b NEW_TREE] [--rounds 4] [--n 10]');
  process.exit(2);
}
const trees = { A: resolve(values.a), B: resolve(values.b) };
const tmp = mkdtempSync(join(tmpdir(), 'hivelab-sandbox-ab-'));
const rounds = Number(values.rounds);
const per = { A: [], B: [] };
try {
  for (let r = 0; r < rounds; r++) {
    for (const side of r % 2 === 0 ? ['A', 'B'] : ['B', 'A']) {
      const out = join(tmp, `${side}-${r}.json`);
      execFileSync(process.execPath, [join(trees[side], 'bench/boot-coldstart.mjs'), '--n', values.n, '--json', out], { cwd: trees[side], stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 });
      per[side].push(JSON.parse(readFileSync(out, 'utf8')));
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`A = ${trees.A}\nB = ${trees.B}\n${rounds} alternating rounds of ${values.n} starts per variant; median of the round medians (ms)\n`);
console.log('runtime  variant  A wall   B wall   B/A    A cpu   B cpu   B/A');
for (const runtime of per.A[0].map((row) => row.runtime)) {
  for (const variant of ['shim', 'bare']) {
    const pick = (side, key) => median(per[side].map((rows) => rows.find((x) => x.runtime === runtime)[key].medianMs));
    const [aw, bw, ac, bc] = [pick('A', variant), pick('B', variant), pick('A', `${variant}Cpu`), pick('B', `${variant}Cpu`)];
    console.log(`${runtime.padEnd(7)}  ${variant.padEnd(7)}  ${aw.toFixed(1).padStart(6)}  ${bw.toFixed(1).padStart(6)}  ${(bw / aw).toFixed(2).padStart(5)}  ${ac.toFixed(1).padStart(6)}  ${bc.toFixed(1).padStart(6)}  ${(bc / ac).toFixed(2).padStart(5)}`);
  }
}
