#!/usr/bin/env node
// Completes `tsc`'s output with what tsc does not emit: the Python runtime shim and SDK, and a
// package.json marking dist/runtime as ES modules. The latter matters because the sandbox mounts
// only dist/runtime (at /opt/hivelab/runtime), so the repo's own package.json is not visible there.
// Usage: node scripts/copy-assets.mjs [outDir]   (default: dist)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = resolve(process.argv[2] ?? join(repo, 'dist'));

const pySrc = join(repo, 'src/runtime/python');
const pyOut = join(outDir, 'runtime/python');
mkdirSync(pyOut, { recursive: true });
let copied = 0;
for (const name of readdirSync(pySrc)) {
  if (!name.endsWith('.py')) continue;
  copyFileSync(join(pySrc, name), join(pyOut, name));
  copied++;
}
// Precompile for the interpreter the sandbox runs (Debian's): the runtime folder is read-only inside,
// so a module without a fresh .pyc would be compiled from source on every cold start.
const python = '/usr/bin/python3';
if (existsSync(python)) {
  execFileSync(python, ['-m', 'compileall', '-q', pyOut], { stdio: 'inherit' });
} else {
  console.warn(`copy-assets: ${python} not found; Python shims will be compiled at every start`);
}
writeFileSync(join(outDir, 'runtime/package.json'), JSON.stringify({ type: 'module' }) + '\n');
console.log(`copy-assets: ${copied} python file(s) → ${pyOut}; runtime/package.json written`);
