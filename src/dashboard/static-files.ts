import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/**
 * The dashboard's front end lives in the repository's top-level `dashboard/` folder as plain ES
 * modules, read from disk at runtime: no bundler, nothing for the TypeScript build to copy. This
 * file sits two levels below the root both as `src/dashboard/*.ts` and as `dist/dashboard/*.js`.
 */
export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));

/** Only flat, plain file names: nothing a request path could use to climb out of the folder. */
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9]+)+$/;

export function staticPath(dir: string, name: string): string | undefined {
  return ASSET_NAME.test(name) ? join(dir, name) : undefined;
}
