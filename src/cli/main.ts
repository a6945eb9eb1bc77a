import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Command } from './command.js';
import { isUsageError } from './command.js';

/**
 * `hivelab <command> [args]`. Commands are files in ./commands, loaded on demand, so `hivelab
 * invoke` does not pay for loading the benchmark kit.
 */

const COMMANDS_DIR = fileURLToPath(new URL('./commands/', import.meta.url));

async function commandNames(): Promise<string[]> {
  const files = await readdir(COMMANDS_DIR).catch(() => [] as string[]);
  return files.filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3)).sort();
}

async function load(name: string): Promise<Command | undefined> {
  if (!/^[a-z][a-z0-9-]*$/.test(name) || !(await commandNames()).includes(name)) return undefined;
  return ((await import(`./commands/${name}.js`)) as { default: Command }).default;
}

async function help(): Promise<void> {
  const lines = ['usage: hivelab <command> [options]   (hivelab <command> --help for details)', '', 'commands:'];
  for (const n of await commandNames()) {
    const c = await load(n).catch((err: Error) => ({ summary: `(cannot load: ${err.message})` }));
    if (c) lines.push(`  ${n.padEnd(12)} ${c.summary}`);
  }
  console.log(lines.join('\n'));
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    await help();
    return name ? 0 : 2;
  }
  const cmd = await load(name);
  if (!cmd) {
    console.error(`hivelab: unknown command "${name}"`);
    await help();
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.usage.trim());
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (isUsageError(err)) {
      console.error(`hivelab ${name}: ${(err as Error).message}\n\n${cmd.usage.trim()}`);
      return 2;
    }
    console.error(`hivelab ${name}: ${(err as Error).message}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
