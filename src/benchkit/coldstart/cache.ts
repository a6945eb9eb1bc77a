import { execFileSync } from 'node:child_process';
import { open, writeFile } from 'node:fs/promises';

/**
 * Page-cache states for a cold start (thesis §4.2's methodology):
 *   host-cold      the host's page cache is dropped before each cold start: images, working set,
 *                  runtime binaries and libraries all come from disk;
 *   runtime-warm   dropped, then the runtime's binary and shared libraries are read back in (the
 *                  production case: Node or Python is hot on the host, the function's snapshot not);
 *   warm           nothing is dropped.
 */

export const CACHE_STATES = ['host-cold', 'runtime-warm', 'warm'] as const;
export type CacheState = (typeof CACHE_STATES)[number];

export async function dropPageCache(): Promise<void> {
  execFileSync('sync');
  await writeFile('/proc/sys/vm/drop_caches', '3\n');
}

const runtimeFiles = new Map<string, string[]>();

/** The runtime binary and the shared libraries it loads (from ldd). */
function filesOf(binary: string): string[] {
  let files = runtimeFiles.get(binary);
  if (!files) {
    const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
    files = [binary, ...[...out.matchAll(/=>\s*(\/\S+)|^\s*(\/\S+)\s+\(/gm)].map((m) => (m[1] ?? m[2])!)];
    runtimeFiles.set(binary, files);
  }
  return files;
}

async function readWhole(file: string): Promise<void> {
  const fh = await open(file, 'r').catch(() => null);
  if (!fh) return;
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    while ((await fh.read(buf, 0, buf.length, null)).bytesRead > 0) {
      /* into the page cache */
    }
  } finally {
    await fh.close();
  }
}

/** Reads the runtime's binary and libraries back into the page cache. */
export async function warmRuntime(runtime: 'node' | 'python'): Promise<void> {
  for (const f of filesOf(runtime === 'node' ? '/usr/bin/node' : '/usr/bin/python3')) await readWhole(f);
}

export async function prepareCache(state: CacheState, runtime: 'node' | 'python'): Promise<void> {
  if (state === 'warm') return;
  await dropPageCache();
  if (state === 'runtime-warm') await warmRuntime(runtime);
}
