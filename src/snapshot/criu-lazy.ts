import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cleanEnv, criuBinary, criuLogTail, CriuError } from './criu.js';
import { CriuDeadlineError, criuDeadlineMs } from './deadline.js';

/**
 * CRIU's own lazy-pages daemon (`criu lazy-pages`), the peer baseline of the `criu-lazy` mode: it
 * listens on `<workDir>/lazy-pages.socket`, serves the first faults and then pushes every remaining
 * page in the background, exiting once all are in. One daemon per restore.
 */

export interface CriuLazyDaemon {
  child: ChildProcess;
  stop(): void;
}

export async function startCriuLazyPages(imagesDir: string, workDir: string, timeoutMs = criuDeadlineMs()): Promise<CriuLazyDaemon> {
  await mkdir(workDir, { recursive: true });
  const socket = path.join(workDir, 'lazy-pages.socket');
  const child = spawn(criuBinary(), ['lazy-pages', '--images-dir', imagesDir, '--work-dir', workDir, '--log-file', 'lazy-pages.log', '-v2'], {
    stdio: 'ignore',
    env: cleanEnv(),
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  const until = Date.now() + timeoutMs;
  while (!existsSync(socket)) {
    if (exited || Date.now() > until) {
      child.kill('SIGKILL');
      const tail = criuLogTail(path.join(workDir, 'lazy-pages.log'));
      if (exited) throw new CriuError(`lazy-pages handshake: criu lazy-pages exited before listening in ${workDir}`, tail);
      throw new CriuDeadlineError('lazy-pages handshake', timeoutMs, `criu lazy-pages did not start listening in ${workDir} and was killed\n${tail}`);
    }
    await sleep(1);
  }
  await sleep(2); // bound is not yet listening: give the daemon its listen(2)
  return {
    child,
    stop: () => {
      if (!exited) child.kill('SIGKILL');
    },
  };
}
