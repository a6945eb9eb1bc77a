#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript under dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  console.error('hivelab: not built yet. Run `npm run setup` (or `npm start`) in the repository first.');
  process.exit(1);
}

// The load generators time each send to within a millisecond. V8's memory reducer runs full
// collections of 4-10 ms whenever the process looks idle (as it does between the bursts of a cold
// experiment) and would delay those sends, and the flag cannot be turned off once V8 runs: these
// commands run in a Node started without it.
const command = process.argv[2];
if ((command === 'bench' || command === 'replay') && !process.execArgv.includes('--no-memory-reducer')) {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['--no-memory-reducer', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  // Ctrl-C reaches the child through the terminal's process group; it writes what it measured.
  process.on('SIGINT', () => {});
  for (const sig of ['SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)));
} else {
  await import(main);
}
