#!/usr/bin/env node
// Boot cold start of the process backend: hello through the runtime shim vs the bare interpreter
// in the same sandbox. Needs a build (npm run build && node scripts/copy-assets.mjs) and root.
// Usage: node bench/boot-coldstart.mjs [--n 20] [--runtime node|python] [--json out.json]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '20' }, runtime: { type: 'string', multiple: true }, json: { type: 'string' } },
});
let mod;
try {
  mod = await import('../dist/sandbox/boot-bench.js');
} catch (err) {
  console.error(`boot-coldstart: cannot load dist/sandbox/boot-bench.js (${err.message}); run the build first`);
  process.exit(1);
}
const rows = await mod.runBootBench({ n: Number(values.n), runtimes: values.runtime });
console.log(mod.formatBootBench(rows));
if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 2) + '\n');
