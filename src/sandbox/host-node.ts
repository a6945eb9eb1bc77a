import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';

/**
 * The node bundle image instances run the port bridge with: the host's node binary, its dynamic
 * loader (as `ld.so`) and the shared libraries `ldd` lists, in one root-owned folder bound read-only
 * at /opt/hivelab/node. The bridge is started as `ld.so --library-path /opt/hivelab/node node
 * bridge.cjs`, so neither the image's loader nor its libraries (another libc, or none) are used, and
 * nothing else of the host's /usr is visible (docs/SANDBOX.md, "Images").
 *
 * Files are hard links of the host's (same file system) or copies; the folder's name hashes the
 * node binary's identity, so an upgraded node gets a new bundle and a running one is never changed.
 */

export const HOST_NODE = '/usr/bin/node';
/** Root's own folder on disk (not world-writable like /var/tmp, not RAM like /run). */
export const HOST_NODE_PARENT = '/var/lib/hivelab-sandbox';

/** Where the bundle of this host's node lives (made by `ensureHostNode`). */
export function hostNodeDir(parent = HOST_NODE_PARENT, node = HOST_NODE): string {
  try {
    const real = realpathSync(node);
    const st = statSync(real);
    const id = createHash('sha256').update(`${real}:${st.size}:${st.mtimeMs}:${st.ino}`).digest('hex').slice(0, 12);
    return join(parent, `host-node-${id}`);
  } catch {
    return join(parent, 'host-node-missing');
  }
}

/** The files of the bundle: [source, name in the bundle]. */
function bundleFiles(node: string): [string, string][] {
  const out = execFileSync('ldd', [node], { encoding: 'utf8', timeout: 10_000, env: { PATH: '/usr/bin:/bin' } });
  const files: [string, string][] = [[realpathSync(node), 'node']];
  for (const line of out.split('\n')) {
    const lib = /=>\s+(\/\S+)/.exec(line)?.[1];
    if (lib) files.push([realpathSync(lib), basename(lib)]);
    else {
      const loader = /^\s*(\/\S+ld-linux\S*)\s+\(/.exec(line)?.[1];
      if (loader) files.push([realpathSync(loader), 'ld.so']);
    }
  }
  if (!files.some(([, n]) => n === 'ld.so')) throw new Error(`ldd ${node} names no dynamic loader; is node statically linked?`);
  return files;
}

/** Makes the bundle unless it is there; returns its folder. */
export function ensureHostNode(dir = hostNodeDir(), node = HOST_NODE): string {
  if (existsSync(join(dir, 'ld.so')) && existsSync(join(dir, 'node'))) return dir;
  const parent = join(dir, '..');
  mkdirSync(parent, { recursive: true, mode: 0o755 });
  const tmp = `${dir}.new-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { mode: 0o755 });
  try {
    for (const [src, name] of bundleFiles(node)) {
      try {
        linkSync(src, join(tmp, name));
      } catch {
        copyFileSync(src, join(tmp, name));
      }
    }
    chmodSync(tmp, 0o755);
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (existsSync(join(dir, 'ld.so'))) return dir; // a concurrent worker made it
    throw new Error(`cannot make the host node bundle ${dir}: ${(err as Error).message}`);
  }
  return dir;
}
