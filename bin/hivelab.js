#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript under dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  console.error('hivelab: not built yet. Run `npm run setup` (or `npm start`) in the repository first.');
  process.exit(1);
}
await import(main);
