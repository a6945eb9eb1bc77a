// Simulator benchmark: synthesises a trace (default 2000 functions, 1 day), runs kpa,
// fixed-keepalive (10 min) and hybrid-histogram over it, prints the speed (× real time) and the
// comparison table. Run after `npx tsc -p tsconfig.json` (imports dist/).
//   node bench/simulator.mjs [--functions N] [--days D] [--seed S] [--out DIR] [--json]
import { parseArgs } from 'node:util';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthesizeTrace } from '../dist/azure-trace/synthesize.js';
import { readAzureTrace } from '../dist/azure-trace/reader.js';
import { simulateTrace } from '../dist/simulator/simulate.js';
import { formatComparison, summary } from '../dist/simulator/report.js';

const { values } = parseArgs({
  options: {
    functions: { type: 'string', default: '2000' },
    days: { type: 'string', default: '1' },
    seed: { type: 'string', default: '42' },
    out: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const functions = Number(values.functions);
const days = Number(values.days);
const seed = Number(values.seed);
const dir = values.out ?? (await mkdtemp(join(tmpdir(), 'hivelab-sim-bench-')));

let t = performance.now();
const synth = await synthesizeTrace({ functions, days, seed, outDir: dir });
const synthS = (performance.now() - t) / 1000;
t = performance.now();
const trace = await readAzureTrace(dir);
const readS = (performance.now() - t) / 1000;
console.log(`trace: ${synth.functions} functions, ${synth.apps} apps, ${days} day(s), ${synth.invocations} invocations in ${dir}`);
console.log(`synthesised in ${synthS.toFixed(1)} s, read in ${readS.toFixed(1)} s`);

const results = [];
for (const policy of ['kpa', 'fixed-keepalive', 'hybrid-histogram']) {
  const r = simulateTrace(trace, { policy, seed, scaling: policy === 'fixed-keepalive' ? { keepAliveS: 600 } : undefined });
  results.push(r);
  const speed = r.simulatedSeconds / r.wallSeconds;
  console.log(
    `${policy.padEnd(17)} ${r.wallSeconds.toFixed(2)} s wall for ${r.simulatedSeconds} s simulated → ${speed.toFixed(0)}× real time ` +
      `(${(r.invocations / r.wallSeconds / 1e6).toFixed(2)} M invocations/s, ${r.decisions} decisions)`,
  );
}
console.log('');
console.log(formatComparison(results));
if (values.json) console.log(JSON.stringify(results.map(summary), null, 2));
