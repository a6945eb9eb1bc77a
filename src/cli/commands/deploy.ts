import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { connect, callJson } from '../client.js';

const usage = `
usage: hivelab deploy DIR [DIR ...] [--replace] [--state DIR]

Deploys function folders (each with a function.json). Redeploying changed code starts a new
version: new invocations go to new instances, old instances finish and stop. A function of the
same name deployed from another folder is not replaced unless --replace is given.
`;

const command: Command = {
  summary: 'deploy function folders',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({ args: argv, options: { state: { type: 'string' }, replace: { type: 'boolean', default: false } }, allowPositionals: true });
    if (positionals.length === 0) throw new UsageError('name at least one function folder');
    const c = await connect(values.state);
    let failed = 0;
    for (const dir of positionals) {
      try {
        const r = await callJson<{ name: string; version: string; changed: boolean }>(c, 'POST', '/v1/functions', { path: resolve(dir), replace: values.replace });
        console.log(`${r.changed ? 'deployed' : 'unchanged'} ${r.name} (version ${r.version})`);
      } catch (err) {
        console.error(`${dir}: ${(err as Error).message}`);
        failed++;
      }
    }
    return failed ? 1 : 0;
  },
};
export default command;
