import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import type { Command } from '../command.js';
import { statePaths } from '../../config/state.js';
import { processExists } from '../../core/process-exists.js';

const usage = `
usage: hivelab down [--state DIR]

Stops the platform that runs with this state folder (its instances stop with it).
`;

const command: Command = {
  summary: 'stop the platform',
  usage,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { state: { type: 'string' } } });
    const paths = statePaths(values.state);
    let pid: number;
    try {
      pid = (JSON.parse(await readFile(paths.platform, 'utf8')) as { pid: number }).pid;
    } catch {
      console.error(`hivelab down: no platform is running with state ${paths.root}`);
      return 1;
    }
    if (!processExists(pid)) {
      console.log(`hivelab down: the platform (pid ${pid}) was not running any more`);
      return 0;
    }
    process.kill(pid, 'SIGTERM');
    const until = Date.now() + 20_000;
    while (processExists(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    if (processExists(pid)) {
      process.kill(pid, 'SIGKILL');
      console.log(`hivelab down: the platform (pid ${pid}) did not stop in 20 s and was killed`);
    } else console.log(`Hivelab (pid ${pid}) stopped`);
    return 0;
  },
};
export default command;
