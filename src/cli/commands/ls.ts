import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { connect, callJson } from '../client.js';
import { modeCell } from './status.js';

const usage = `
usage: hivelab ls [--json] [--state DIR]

Lists deployed functions with their version and instances.
`;

interface Listed {
  name: string;
  version: string;
  runtime: string;
  manifest: { memoryMB: number; concurrency: number };
  instances: { id: string; state: string }[];
  coldStart?: { configured: string; mode: string; fallback?: string };
}

const command: Command = {
  summary: 'list deployed functions',
  usage,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { state: { type: 'string' }, json: { type: 'boolean', default: false } } });
    const c = await connect(values.state);
    const { functions } = await callJson<{ functions: Listed[] }>(c, 'GET', '/v1/functions');
    if (values.json) {
      console.log(JSON.stringify(functions, null, 2));
      return 0;
    }
    if (functions.length === 0) {
      console.log('no functions deployed (hivelab deploy DIR)');
      return 0;
    }
    const rows = [['NAME', 'RUNTIME', 'VERSION', 'MODE', 'MEMORY', 'CONC', 'INSTANCES']];
    for (const f of functions) {
      const states = f.instances.map((i) => i.state);
      const summary = states.length ? `${states.length} (${[...new Set(states)].map((s) => `${states.filter((x) => x === s).length} ${s}`).join(', ')})` : '0';
      rows.push([f.name, f.runtime, f.version, f.coldStart ? modeCell(f.coldStart) : '-', `${f.manifest.memoryMB} MB`, String(f.manifest.concurrency), summary]);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) console.log(r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
    for (const f of functions) if (f.coldStart?.fallback) console.log(`${f.name}: boots (${f.coldStart.fallback})`);
    return 0;
  },
};
export default command;
