import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { SubExperiment } from '../experiment.js';
import type { Deployment, Provider } from './provider.js';

/**
 * The `endpoints` provider: functions already deployed somewhere (a cloud, another platform). Each
 * URL acts as one replica — STeLLAR's endpoints file — so bursts go round-robin over them. Nothing is
 * deployed or removed; chains are the deployed functions' own business.
 */
export async function readEndpointsFile(file: string): Promise<string[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`--endpoints ${file}: ${(e as Error).message}`);
  }
  const r = z.array(z.string().url()).min(1).safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`--endpoints ${file}: ${i.path.length ? `[${i.path.join('.')}]` : '(root)'}: ${i.message} (expected a JSON array of URLs)`);
  }
  return r.data;
}

export class EndpointsProvider implements Provider {
  readonly name = 'endpoints' as const;
  constructor(private readonly fileEndpoints?: string[]) {}

  async deploy(sub: SubExperiment): Promise<Deployment> {
    const urls = sub.endpoints ?? this.fileEndpoints;
    if (!urls || urls.length === 0) {
      throw new Error(`sub-experiment "${sub.title}": provider "endpoints" needs subExperiments[].endpoints or --endpoints FILE`);
    }
    return { urls: [...urls], headers: {}, chain: () => [] };
  }

  async teardown(): Promise<void> {}
}
