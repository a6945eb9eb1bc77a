import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

/** Runs the real `hivelab` command (bin/hivelab.js, the built dist/) with its exit code and output. */
const BIN = resolve(import.meta.dirname, '../../bin/hivelab.js');

export function hivelab(args: string[], env: Record<string, string> = {}, timeoutMs = 240_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { timeout: timeoutMs, env: { ...process.env, HIVELAB_REGISTRY_AUTH: '', ...env } }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
