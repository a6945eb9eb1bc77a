import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, onTestFinished } from 'vitest';
import { getCurrentTest } from 'vitest/suite';

/**
 * Scratch folders that cannot outlive the test file that made them (left-over folders piled up in
 * /tmp by the hundred). One function for both places folders are made, so a test never has to pair
 * a mkdtemp with an rm of its own:
 *
 * - in a test (or its beforeEach): removed by onTestFinished, which runs after the test's afterEach
 *   hooks and, like them, in reverse order of registration, so a platform or child the test stops in
 *   its own onTestFinished (registered after the folder was made) is gone before the folder is;
 * - anywhere else (beforeAll, a helper called from it): removed by the afterAll registered below.
 *   It is registered when a test file first imports this module, before any hook of the file's own,
 *   and vitest runs afterAll hooks in reverse order (sequence.hooks "stack", the default) and a
 *   describe's before the file's: it runs last, after every hook that stops what used the folder.
 *   Each test file gets its own copy of this module (vitest isolates files), so each file removes
 *   its own folders.
 *
 * Both run whether the test passed or failed.
 */
const fileScoped: string[] = [];

afterAll(async () => {
  for (const dir of fileScoped.splice(0)) await removeScratch(dir);
});

/** A new empty folder `<tmpdir>/<prefix>XXXXXX`, removed when the current test (or, outside a test, the file) is over. */
export async function scratchDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  if (getCurrentTest()) onTestFinished(() => removeScratch(dir));
  else fileScoped.push(dir);
  return dir;
}

async function removeScratch(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
