import { createHash, randomFillSync } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, open, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { loadManifest, ManifestError, parseManifest, readManifestObject } from '../manifest/validate.js';
import type { FunctionManifest } from '../manifest/schema.js';
import { writeFileAtomic } from '../core/atomic-write.js';

/** A deploy that would replace a function deployed from another folder (without `replace`). */
export class DeployConflictError extends Error {
  constructor(
    readonly functionName: string,
    readonly deployedFrom: string,
    readonly requestedFrom: string,
  ) {
    super(`function "${functionName}" is already deployed from ${deployedFrom}; deploying ${requestedFrom} would replace it (pass --replace, or {"replace": true}, to do so)`);
    this.name = 'DeployConflictError';
  }
}

/** A deployed function version: an immutable copy of the function folder inside the state folder. */
export interface Deployment {
  name: string;
  version: string;
  /** The immutable copy instances mount. */
  dir: string;
  /** Where it was deployed from (for redeploys and display). */
  sourceDir: string;
  deployedAt: string;
  manifest: FunctionManifest;
}

interface DeploymentsFile {
  functions: Record<string, Omit<Deployment, 'manifest'>>;
}

const PADDING_FILE = '.hivelab-padding';

/** Content hash of a folder (paths and bytes) plus the manifest: equal folders deploy to equal versions. */
async function folderVersion(dir: string, manifest: FunctionManifest): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(manifest));
  const walk = async (d: string): Promise<void> => {
    const entries = (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (e.name === 'node_modules' || e.name === '__pycache__') continue;
        await walk(p);
      } else if (e.isFile()) {
        hash.update(relative(dir, p));
        hash.update(await readFile(p));
      }
    }
  };
  await walk(dir);
  return hash.digest('hex').slice(0, 12);
}

/** Random (incompressible) content, so padding really grows what an instance must load. */
async function writePadding(path: string, megabytes: number): Promise<void> {
  const fh = await open(path, 'w');
  try {
    const chunk = Buffer.allocUnsafe(1024 * 1024);
    const whole = Math.floor(megabytes);
    for (let i = 0; i < whole; i++) await fh.write(randomFillSync(chunk));
    const rest = Math.round((megabytes - whole) * 1024 * 1024);
    if (rest > 0) await fh.write(randomFillSync(Buffer.allocUnsafe(rest)));
  } finally {
    await fh.close();
  }
}

/** The set of deployed functions, persisted in `deployments.json` so a restart keeps them. */
export class DeploymentStore {
  private readonly deployments = new Map<string, Deployment>();

  constructor(
    private readonly functionsDir: string,
    private readonly indexFile: string,
  ) {}

  /** Loads what was deployed before; a version whose folder or manifest is broken is skipped with a warning. */
  async load(warn: (msg: string) => void = console.warn): Promise<void> {
    let file: DeploymentsFile;
    try {
      file = JSON.parse(await readFile(this.indexFile, 'utf8')) as DeploymentsFile;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new Error(`${this.indexFile} is unreadable: ${(err as Error).message}`);
    }
    for (const entry of Object.values(file.functions ?? {})) {
      try {
        const manifest = await loadManifest(entry.dir);
        this.deployments.set(entry.name, { ...entry, manifest });
      } catch (err) {
        warn(`skipping deployment ${entry.name}: ${(err as Error).message}`);
      }
    }
  }

  get(name: string): Deployment | undefined {
    return this.deployments.get(name);
  }

  list(): Deployment[] {
    return [...this.deployments.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Validates and copies a function folder; returns the deployment and whether its version changed. */
  /**
   * `settings` (manifest fields, e.g. from `hivelab deploy DIR --runtime nodejs20.x --handler
   * index.handler`) are laid over the folder's function.json, which may then be absent (a Lambda
   * function folder as written). The copy always gets the resulting function.json, so a restart
   * reloads exactly what was deployed. `check` refuses what the fleet cannot hold; `replace`
   * allows taking over a name deployed from another folder.
   */
  async deploy(
    sourceDir: string,
    opts: { settings?: Record<string, unknown>; replace?: boolean; check?: (m: FunctionManifest) => void } = {},
  ): Promise<{ deployment: Deployment; changed: boolean }> {
    const src = resolve(sourceDir);
    const st = await stat(src).catch(() => null);
    if (!st?.isDirectory()) throw new ManifestError(`${src} is not a folder`);
    const settings = opts.settings;
    const manifest = settings ? parseManifest({ ...(await readManifestObject(src, true)), ...settings }) : await loadManifest(src);
    opts.check?.(manifest);
    const previous = this.deployments.get(manifest.name);
    // Two folders that happen to share a function name: replacing the other one silently would
    // take a function away from whoever deployed it. A redeploy from the same folder is an update.
    if (previous && previous.sourceDir !== src && !opts.replace) {
      throw new DeployConflictError(manifest.name, previous.sourceDir, src);
    }
    const version = await folderVersion(src, manifest);
    if (previous?.version === version) return { deployment: previous, changed: false };

    const dir = join(this.functionsDir, manifest.name, version);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await cp(src, dir, { recursive: true, filter: (p) => !p.includes('/__pycache__') });
    if (settings) await writeFile(join(dir, 'function.json'), JSON.stringify(manifest, null, 2) + '\n');
    if (manifest.paddingMB > 0) await writePadding(join(dir, PADDING_FILE), manifest.paddingMB);

    const deployment: Deployment = {
      name: manifest.name,
      version,
      dir,
      sourceDir: src,
      deployedAt: new Date().toISOString(),
      manifest,
    };
    this.deployments.set(manifest.name, deployment);
    await this.persist();
    if (previous) await rm(previous.dir, { recursive: true, force: true });
    return { deployment, changed: true };
  }

  async remove(name: string): Promise<Deployment | undefined> {
    const d = this.deployments.get(name);
    if (!d) return undefined;
    this.deployments.delete(name);
    await this.persist();
    await rm(join(this.functionsDir, name), { recursive: true, force: true });
    return d;
  }

  private async persist(): Promise<void> {
    const file: DeploymentsFile = { functions: {} };
    for (const d of this.deployments.values()) {
      const { manifest: _m, ...rest } = d;
      file.functions[d.name] = rest;
    }
    await mkdir(this.functionsDir, { recursive: true });
    await writeFileAtomic(this.indexFile, JSON.stringify(file, null, 2) + '\n');
  }
}
