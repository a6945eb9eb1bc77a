import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export type Handler = (event: unknown, context: object) => unknown;

/** A handler that cannot be loaded; the shim prints it and exits so the start fails with a clear log tail. */
export class HandlerLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HandlerLoadError';
  }
}

/**
 * require() first: Node ≥ 20.19 loads ES modules synchronously through it, without bringing up the
 * asynchronous ESM loader, which is a few milliseconds of cold start. Modules with top-level await
 * (or a Node without require(esm)) fall back to import().
 */
async function loadModule(file: string): Promise<Record<string, unknown>> {
  try {
    return require(file) as Record<string, unknown>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ERR_REQUIRE_ASYNC_MODULE' && code !== 'ERR_REQUIRE_ESM') throw err;
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  }
}

// Like Lambda: an explicit .mjs wins, then .js (ESM or CJS by the nearest package.json), then .cjs.
const EXTENSIONS = ['.mjs', '.js', '.cjs'];

/**
 * Loads `module.function` (e.g. `index.handler`, `lib/app.main`) from the task root once, at
 * startup, so the first invocation pays nothing for it.
 */
export async function loadHandler(taskRoot: string, spec: string): Promise<Handler> {
  const dot = spec.lastIndexOf('.');
  if (dot <= 0 || dot === spec.length - 1) {
    throw new HandlerLoadError(`handler "${spec}" must look like "module.function", e.g. "index.handler"`);
  }
  const moduleName = spec.slice(0, dot);
  const exportName = spec.slice(dot + 1);
  const candidates = EXTENSIONS.map((ext) => join(taskRoot, moduleName + ext));
  const file = candidates.find((f) => existsSync(f));
  if (!file) {
    throw new HandlerLoadError(`handler module "${moduleName}" not found: tried ${candidates.join(', ')}`);
  }
  let mod: Record<string, unknown>;
  try {
    mod = await loadModule(file);
  } catch (err) {
    const e = err as Error;
    throw new HandlerLoadError(`cannot load ${file}: ${e.stack ?? e.message}`);
  }
  // CJS modules arrive as { default: module.exports, ...detected named exports }.
  const fn = mod[exportName] ?? (mod.default as Record<string, unknown> | undefined)?.[exportName];
  if (typeof fn !== 'function') {
    throw new HandlerLoadError(`${file} does not export a function named "${exportName}" (found: ${typeof fn})`);
  }
  return fn as Handler;
}
