import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { join, relative, sep } from 'node:path';
import type { FunctionManifest } from '../manifest/schema.js';

/**
 * What goes into a function's image besides its own folder: the Debian packages of the base (from
 * the runtime and the modules the code imports) and, for Node, the npm packages the code requires
 * that the folder does not carry itself (taken from the platform's node_modules, the same ones an
 * instance sees at /node_modules, with everything they depend on).
 */

/** Python modules that are Debian packages (the ones Hivelab's and vSwarm's functions use). */
export const PYTHON_MODULE_PACKAGES: Record<string, string> = {
  grpc: 'python3-grpcio',
  google: 'python3-protobuf',
  pyaes: 'python3-pyaes',
  numpy: 'python3-numpy',
  PIL: 'python3-pil',
  sklearn: 'python3-sklearn',
  chameleon: 'python3-chameleon',
  yaml: 'python3-yaml',
  requests: 'python3-requests',
  cv2: 'python3-opencv',
  pymongo: 'python3-pymongo',
  gridfs: 'python3-gridfs',
  torch: 'python3-torch',
};

/** Folders never copied into an image (caches the build host made). */
const SKIPPED = new Set(['__pycache__', '.git', '.hivelab-padding']);

export async function filesUnder(dir: string, exts: string[], skipNodeModules = true): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (SKIPPED.has(e.name) || (skipNodeModules && e.name === 'node_modules')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && exts.some((x) => e.name.endsWith(x))) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

export function isSkipped(name: string): boolean {
  return SKIPPED.has(name);
}

let stdlibCache: Set<string> | undefined;
/** Python's standard library module names, from Debian's interpreter on this host (3.10+). */
function pythonStdlib(): Set<string> {
  if (!stdlibCache) {
    try {
      const out = execFileSync('/usr/bin/python3', ['-c', 'import sys; print("\\n".join(sorted(sys.stdlib_module_names)))'], { encoding: 'utf8' });
      stdlibCache = new Set(out.split('\n').filter(Boolean));
    } catch {
      stdlibCache = new Set();
    }
  }
  return stdlibCache;
}

/** Top-level module names a Python file imports (`import a.b, c` and `from a.b import c`; relative imports skipped). */
export function pythonImports(source: string): string[] {
  const names = new Set<string>();
  for (const m of source.matchAll(/^[ \t]*(?:import[ \t]+([A-Za-z0-9_., \t]+)|from[ \t]+([A-Za-z_][A-Za-z0-9_.]*)[ \t]+import\b)/gm)) {
    const list = m[1] ? m[1].split(',').map((s) => s.trim().split(/[ \t]/)[0]!) : [m[2]!];
    for (const item of list) if (item) names.add(item.split('.')[0]!);
  }
  return [...names].sort();
}

/** Bare package names a JavaScript file requires or imports (`@scope/name` or `name`), builtins left out. */
export function nodeImports(source: string): string[] {
  const names = new Set<string>();
  const builtins = new Set(builtinModules);
  for (const m of source.matchAll(/(?:\brequire\s*\(\s*|\bimport\s*\(\s*|\bfrom\s+|^\s*import\s+)(['"])([^'"\n]+)\1/gm)) {
    const spec = m[2]!;
    if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) continue;
    const parts = spec.split('/');
    const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
    if (builtins.has(name)) continue;
    names.add(name);
  }
  return [...names].sort();
}

export interface PackagePlan {
  packages: string[];
  warnings: string[];
  /** Whether the image needs the host's Node binary (Node handlers and Node server programs). */
  needsNode: boolean;
}

/** The Debian packages the base needs for `manifest` in `dir`, plus `extra` (the --package flags). */
export async function debianPackagesFor(manifest: FunctionManifest, dir: string, extra: string[]): Promise<PackagePlan> {
  const packages = new Set(extra);
  const warnings: string[] = [];
  const needsNode = manifest.runtime === 'node';
  // Node is the host's own binary (build.ts says why); it links libstdc++ besides libc and libgcc_s.
  if (needsNode) packages.add('libstdc++6');
  if (manifest.runtime === 'python') {
    packages.add('python3');
    const stdlib = pythonStdlib();
    const files = await filesUnder(dir, ['.py']);
    const local = new Set<string>();
    for (const f of files) {
      const rel = relative(dir, f).split(sep);
      local.add(rel[0]!.replace(/\.py$/, ''));
      // vSwarm's layout imports `proto.x.x_pb2` and `x_pb2_grpc` from the working folder
      local.add(rel[rel.length - 1]!.replace(/\.py$/, ''));
    }
    for (const f of files) {
      for (const mod of pythonImports(await readFile(f, 'utf8'))) {
        if (local.has(mod) || stdlib.has(mod) || mod === 'hivelab_sdk' || mod === '__future__') continue;
        const pkg = PYTHON_MODULE_PACKAGES[mod];
        if (pkg) packages.add(pkg);
        else if (!existsSync(join(dir, mod))) warnings.push(`${relative(dir, f)} imports "${mod}", which is neither in the folder nor a known Debian package: add it with --package`);
      }
    }
  }
  return { packages: [...packages].sort(), warnings: [...new Set(warnings)], needsNode };
}

interface PackageJson {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

async function isDir(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

/**
 * Node's lookup from inside `fromDir` (a package folder under `root`): `fromDir/node_modules/name`,
 * then each parent's node_modules up to `root`.
 */
async function resolvePackage(root: string, fromDir: string, name: string): Promise<string | undefined> {
  let d = fromDir;
  for (;;) {
    const candidate = join(d, 'node_modules', name);
    if (await isDir(candidate)) return candidate;
    if (d === root || !d.startsWith(root)) break;
    const up = d.slice(0, d.lastIndexOf(sep));
    if (up.length < root.length) break;
    d = up;
  }
  const top = join(root, 'node_modules', name);
  return (await isDir(top)) ? top : undefined;
}

export interface NodeModulesPlan {
  /** Package folders, relative to `<root>/node_modules`, outermost first (a nested one is inside its parent's copy anyway). */
  packages: string[];
  missing: string[];
}

/**
 * The packages of `<root>/node_modules` that `names` need, with their dependencies (dependencies,
 * optional ones that are installed, and installed peers), resolved as Node would from where each
 * package lives. A package's folder is copied whole, nested node_modules included.
 */
export async function nodeModulesClosure(root: string, names: string[]): Promise<NodeModulesPlan> {
  const found = new Set<string>();
  const missing: string[] = [];
  const queue: { from: string; name: string; optional: boolean }[] = names.map((name) => ({ from: root, name, optional: false }));
  while (queue.length) {
    const { from, name, optional } = queue.shift()!;
    const dir = await resolvePackage(root, from, name);
    if (!dir) {
      if (!optional) missing.push(name);
      continue;
    }
    if (found.has(dir)) continue;
    found.add(dir);
    let pj: PackageJson = {};
    try {
      pj = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as PackageJson;
    } catch {
      // a package without package.json has no dependencies to follow
    }
    for (const d of Object.keys(pj.dependencies ?? {})) queue.push({ from: dir, name: d, optional: false });
    for (const d of Object.keys(pj.optionalDependencies ?? {})) queue.push({ from: dir, name: d, optional: true });
    for (const d of Object.keys(pj.peerDependencies ?? {})) queue.push({ from: dir, name: d, optional: true });
  }
  const base = join(root, 'node_modules') + sep;
  const rel = [...found].map((d) => d.slice(base.length)).sort();
  // Drop a folder already inside another chosen one (it is copied with it).
  const outer = rel.filter((r) => !rel.some((o) => o !== r && r.startsWith(`${o}${sep}`)));
  return { packages: outer, missing: [...new Set(missing)].sort() };
}

/** Bare packages the function's JavaScript needs that its own node_modules does not hold. */
export async function nodeRequirements(dir: string): Promise<string[]> {
  const names = new Set<string>();
  for (const f of await filesUnder(dir, ['.js', '.cjs', '.mjs'])) for (const n of nodeImports(await readFile(f, 'utf8'))) names.add(n);
  const own: string[] = [];
  for (const n of names) if (await isDir(join(dir, 'node_modules', n))) own.push(n);
  return [...names].filter((n) => !own.includes(n)).sort();
}
