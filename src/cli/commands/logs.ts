import { parseArgs } from 'node:util';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { statePaths } from '../../config/state.js';

const usage = `
usage: hivelab logs NAME [--instance ID] [--state DIR]

Prints the stdout/stderr of a function's instances (kept per instance, oldest first).
`;

const command: Command = {
  summary: "print a function's instance logs",
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { state: { type: 'string' }, instance: { type: 'string' } },
      allowPositionals: true,
    });
    const name = positionals[0];
    if (!name) throw new UsageError('name a function');
    const dir = join(statePaths(values.state).logs, name);
    let files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.log'));
    if (values.instance) files = files.filter((f) => f === `${values.instance}.log`);
    if (files.length === 0) {
      console.error(`no logs for ${name}${values.instance ? ` instance ${values.instance}` : ''} in ${dir}`);
      return 1;
    }
    const withTimes = await Promise.all(files.map(async (f) => ({ f, t: (await stat(join(dir, f))).birthtimeMs })));
    for (const { f } of withTimes.sort((a, b) => a.t - b.t)) {
      console.log(`==> ${f.slice(0, -4)} <==`);
      process.stdout.write(await readFile(join(dir, f), 'utf8'));
    }
    return 0;
  },
};
export default command;
