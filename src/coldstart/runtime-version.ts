import { execFileSync } from 'node:child_process';
import type { Runtime } from '../manifest/schema.js';

/** The runtime's version, recorded with each snapshot (a snapshot of another Node is no use). */
const versions = new Map<string, string>();

export function runtimeVersion(runtime: Runtime | string): string {
  let v = versions.get(runtime);
  if (!v) {
    const bin = runtime === 'node' ? '/usr/bin/node' : '/usr/bin/python3';
    v = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
    versions.set(runtime, v);
  }
  return v;
}
