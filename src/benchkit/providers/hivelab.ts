import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { manifestSchema } from '../../manifest/schema.js';
import type { SubExperiment } from '../experiment.js';
import { benchFunctionName, resolveFunctionDir } from './function-source.js';
import type { Deployment, Provider, ProviderContext } from './provider.js';

/**
 * The `hivelab` provider: deploys each replica × chain hop as its own function on the running
 * platform (found through `<state>/platform.json` and `<state>/tokens.json`), with the requested
 * memoryMB, paddingMB = imageSizeMB and concurrency; invokes them through the gateway; deletes them
 * afterwards. Replicas are distinct names so cold-start experiments need not wait out keep-alive.
 */
export interface PlatformAccess {
  url: string;
  adminToken: string;
  invokeToken: string;
}

export async function readPlatformAccess(stateDir: string): Promise<PlatformAccess> {
  const readJson = async (file: string, what: string): Promise<Record<string, unknown>> => {
    try {
      return JSON.parse(await readFile(join(stateDir, file), 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`hivelab provider: cannot read ${what} ${join(stateDir, file)} (is the platform up? \`hivelab up\`): ${(e as Error).message}`);
    }
  };
  const platform = await readJson('platform.json', 'the platform file');
  const tokens = await readJson('tokens.json', 'the tokens file');
  if (typeof platform.url !== 'string') throw new Error(`hivelab provider: ${join(stateDir, 'platform.json')}: field "url" missing`);
  if (typeof tokens.admin !== 'string') throw new Error(`hivelab provider: ${join(stateDir, 'tokens.json')}: field "admin" missing`);
  return { url: platform.url.replace(/\/+$/, ''), adminToken: tokens.admin, invokeToken: typeof tokens.invoke === 'string' ? tokens.invoke : tokens.admin };
}

export class HivelabProvider implements Provider {
  readonly name = 'hivelab' as const;
  private readonly deployed: string[] = [];
  // The promise, not the path: sub-experiments that are not sequential deploy at the same time, and
  // each awaiting its own mkdtemp made one folder per sub of which teardown knew only the last.
  private workDir: Promise<string> | undefined;

  constructor(
    private readonly access: PlatformAccess,
    private readonly ctx: ProviderContext,
  ) {}

  private async api(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const res = await request(this.access.url + path, {
      method,
      headers: { authorization: `Bearer ${this.access.adminToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.statusCode, text: await res.body.text() };
  }

  /** The header requests to deployed functions need. */
  invokeHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.access.invokeToken}` };
  }

  /**
   * Deploys a copy of `source` as `name` with manifest fields overridden (memoryMB, paddingMB,
   * concurrency…); the manifest is validated here so a bad setting names its field before any
   * HTTP call. Returns the function's invoke URL.
   */
  async deployCopy(source: string, name: string, overrides: Record<string, unknown>, what: string): Promise<string> {
    // A folder without function.json (a Lambda function as written) takes its settings from `overrides`.
    const baseManifest = existsSync(join(source, 'function.json')) ? (JSON.parse(await readFile(join(source, 'function.json'), 'utf8')) as Record<string, unknown>) : {};
    this.workDir ??= mkdtemp(join(tmpdir(), 'hivelab-bench-'));
    const dir = join(await this.workDir, name);
    await cp(source, dir, { recursive: true });
    // Nothing pre-started at deploy (Knative's initialScale 1 would make the first "cold" request
    // warm): instances exist only because the experiment's requests asked for them.
    const scaling = { initialScale: 0, ...(baseManifest.scaling as Record<string, unknown> | undefined) };
    const m = manifestSchema.safeParse({ ...baseManifest, ...overrides, scaling, name });
    if (!m.success) throw new Error(`${what}: ${source}/function.json with the requested settings is invalid: ${m.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    await writeFile(join(dir, 'function.json'), JSON.stringify(m.data, null, 2));
    const res = await this.api('POST', '/v1/functions', { path: dir });
    if (res.status >= 300) throw new Error(`${what}: deploying ${name}: HTTP ${res.status} ${res.text.slice(0, 500)}`);
    this.deployed.push(name);
    return `${this.access.url}/invoke/${name}`;
  }

  async deploy(sub: SubExperiment, index: number): Promise<Deployment> {
    const source = resolveFunctionDir(sub.function, this.ctx.experimentDir, sub.functionSettings !== undefined);
    const names: string[][] = [];
    for (let r = 0; r < sub.replicas; r++) {
      const row: string[] = [];
      for (let h = 0; h < sub.chainLength; h++) {
        const name = benchFunctionName(this.ctx.runId, index, sub.function, r, h);
        await this.deployCopy(source, name, { ...sub.functionSettings, memoryMB: sub.memoryMB, paddingMB: sub.imageSizeMB, concurrency: sub.concurrency }, `sub-experiment "${sub.title}"`);
        row.push(name);
      }
      names.push(row);
    }
    this.ctx.log(`deployed ${sub.replicas * sub.chainLength} function(s) for "${sub.title}"`);
    return {
      urls: names.map((row) => `${this.access.url}/invoke/${row[0]}`),
      headers: this.invokeHeaders(),
      chain: (replica) => names[replica % names.length]!.slice(1),
    };
  }

  async teardown(): Promise<void> {
    const failures: string[] = [];
    for (const name of this.deployed.splice(0)) {
      try {
        const res = await this.api('DELETE', `/v1/functions/${name}`);
        if (res.status >= 300 && res.status !== 404) failures.push(`${name}: HTTP ${res.status}`);
      } catch (e) {
        failures.push(`${name}: ${(e as Error).message}`);
      }
    }
    // A mkdtemp that failed made nothing to remove (and failed its deploy already).
    const workDir = await this.workDir?.catch(() => undefined);
    this.workDir = undefined;
    if (workDir) await rm(workDir, { recursive: true, force: true });
    if (failures.length) this.ctx.log(`could not remove: ${failures.join(', ')}`);
  }
}
