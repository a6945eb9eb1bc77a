import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from this file's place in src/benchkit/providers or dist/benchkit/providers. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * Finds a sub-experiment's `function`: a folder path (relative to the experiment file), else a
 * benchmark function under bench-functions/, else a suite function under functions/.
 */
export function resolveFunctionDir(fn: string, experimentDir: string, manifestOptional = false): string {
  const candidates = isAbsolute(fn) ? [fn] : [resolve(experimentDir, fn), join(REPO_ROOT, 'bench-functions', fn), join(REPO_ROOT, 'functions', fn)];
  for (const c of candidates) {
    if (existsSync(join(c, 'function.json')) && statSync(c).isDirectory()) return c;
  }
  // A Lambda function folder as written has no function.json; its settings come from the experiment.
  if (manifestOptional) for (const c of candidates) if (existsSync(c) && statSync(c).isDirectory()) return c;
  throw new Error(`function "${fn}": no folder with a function.json at ${candidates.join(', ')}`);
}

/** A deployable function name (lower-case, digits, dashes, ≤ 63) for replica r, hop h of a chain. */
export function benchFunctionName(runId: string, index: number, fn: string, replica: number, hop: number): string {
  const base = fn.split('/').filter(Boolean).pop() ?? 'fn';
  const clean = base.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 24) || 'fn';
  return `${clean}-${runId}-${index}-r${replica}-h${hop}`.slice(0, 63).replace(/-+$/, '');
}
