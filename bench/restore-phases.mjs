#!/usr/bin/env node
// Where a restore's time goes, from CRIU's own -v4 logs (issue 15, item 4). Run restores with the
// logs kept, then point this at the folder:
//
//   HIVELAB_CRIU_LOG_LEVEL=4 HIVELAB_CRIU_KEEP_LOGS=/tmp/rlogs \
//     npx hivelab coldstart --functions helloworld-node --modes snapshot --iterations 10 --cache warm
//   node bench/restore-phases.mjs /tmp/rlogs [--top 8]
//
// Per log: CRIU's whole run (its last timestamp), the time its restorer spent reading pages into the
// tasks (from each `Preadv` line to its `returned` line: the part that grows with the image), and
// the rest: CRIU's fixed part. Then the medians and the largest gaps between consecutive log lines
// (what dominates the fixed part), and the median time between CRIU's landmark lines (the root
// forked, the mount namespace, the first page read, every task restored, the final stages, the
// syscall-stop tail). -v4 logging itself costs time: compare fixed parts measured the same way, not
// against a -v2 restore.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: a, positionals } = parseArgs({ options: { top: { type: 'string', default: '8' } }, allowPositionals: true });
const dir = positionals[0];
if (!dir) {
  console.error('usage: node bench/restore-phases.mjs LOG_FOLDER [--top N]');
  process.exit(2);
}
const files = readdirSync(dir).filter((f) => f.endsWith('.restore.log')).sort();
if (files.length === 0) {
  console.error(`restore-phases: no *.restore.log in ${dir} (run restores with HIVELAB_CRIU_KEEP_LOGS=${dir})`);
  process.exit(1);
}
const STAMP = /^\((\d+)\.(\d+)\)\s*(.*)$/;
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
// a line's shape: numbers, addresses and CRIU's random folder names blanked, so gaps add up across logs
const shape = (text) => text.replace(/\.criu\.mntns\.\w+/g, '.criu.mntns.X').replace(/0x[0-9a-f]+|\d+/g, '#').slice(0, 70);
const rows = [];
const gaps = new Map(); // "after → before" (digits blanked) → ms per log
for (const f of files) {
  let prev = null;
  let total = 0;
  let pages = 0;
  const open = new Map(); // pie pid → time its Preadv started
  let count = 0;
  for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
    const m = STAMP.exec(line);
    if (!m) continue;
    const t = Number(m[1]) * 1000 + Number(m[2]) / 1000;
    const text = m[3];
    const pie = /pie: (\d+):/.exec(text)?.[1];
    if (pie && /Preadv/.test(text)) open.set(pie, t);
    else if (pie && /returned/.test(text) && open.has(pie)) {
      pages += t - open.get(pie);
      open.delete(pie);
    }
    if (prev) {
      const key = `${shape(prev.text)}  →  ${shape(text)}`;
      const g = gaps.get(key) ?? new Array(files.length).fill(0);
      g[rows.length] += t - prev.t;
      gaps.set(key, g);
    }
    prev = { t, text };
    total = t;
    count++;
  }
  rows.push({ log: f, lines: count, totalMs: total, pagesMs: pages, fixedMs: total - pages });
}
console.log('log | lines | criu_ms | pages_ms | fixed_ms');
for (const r of rows) console.log(`${r.log} | ${r.lines} | ${r.totalMs.toFixed(1)} | ${r.pagesMs.toFixed(1)} | ${r.fixedMs.toFixed(1)}`);
console.log(`median of ${rows.length} | | ${median(rows.map((r) => r.totalMs)).toFixed(1)} | ${median(rows.map((r) => r.pagesMs)).toFixed(1)} | ${median(rows.map((r) => r.fixedMs)).toFixed(1)}`);
console.log(`\nlargest gaps between consecutive lines (median over the logs, ms):`);
const top = [...gaps.entries()].map(([k, v]) => [k, median(v)]).sort((x, y) => y[1] - x[1]).slice(0, Number(a.top));
for (const [k, v] of top) console.log(`${v.toFixed(1).padStart(7)}  ${k}`);

// landmarks, in the order CRIU passes them; a log that lacks one skips it
const LANDMARKS = [
  ['root forked', /PID: real/],
  ['mount namespace begun', /mnt: Restoring mount namespace/],
  ['mount namespace done', /post-setup-namespaces/],
  ['first page read', /Preadv/],
  ['pages read', /skip pagemap/],
  ['every task restored', /Running post-restore scripts/],
  ['network unlocked', /Running network-unlock scripts/],
  ['syscall-stop tail begun', /Force no-breakpoints/],
  ['restore finished', /Restore finished successfully/],
];
const phases = new Map();
for (const f of files) {
  const lines = readFileSync(join(dir, f), 'utf8').split('\n').map((l) => STAMP.exec(l)).filter(Boolean).map((m) => ({ t: Number(m[1]) * 1000 + Number(m[2]) / 1000, text: m[3] }));
  let prev = { name: 'start', t: 0 };
  for (const [name, re] of LANDMARKS) {
    const hit = lines.find((l) => l.t >= prev.t && re.test(l.text));
    if (!hit) continue;
    const key = `${prev.name} → ${name}`;
    phases.set(key, [...(phases.get(key) ?? []), hit.t - prev.t]);
    prev = { name, t: hit.t };
  }
  const key = `${prev.name} → end`;
  phases.set(key, [...(phases.get(key) ?? []), (lines.at(-1)?.t ?? prev.t) - prev.t]);
}
console.log(`\nbetween landmarks (median over the logs, ms):`);
for (const [k, v] of phases) console.log(`${median(v).toFixed(2).padStart(7)}  ${k}`);
