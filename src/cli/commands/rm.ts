import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { connect, callJson } from '../../gateway/client.js';

const usage = `
usage: hivelab rm NAME [NAME ...] [--state DIR]

Removes deployed functions and stops their instances.
`;

const command: Command = {
  summary: 'remove functions',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({ args: argv, options: { state: { type: 'string' } }, allowPositionals: true });
    if (positionals.length === 0) throw new UsageError('name at least one function');
    const c = await connect(values.state);
    let failed = 0;
    for (const name of positionals) {
      try {
        await callJson(c, 'DELETE', `/v1/functions/${encodeURIComponent(name)}`);
        console.log(`removed ${name}`);
      } catch (err) {
        console.error(`${name}: ${(err as Error).message}`);
        failed++;
      }
    }
    return failed ? 1 : 0;
  },
};
export default command;
