import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { SubExperiment } from '../experiment.js';
import type { Deployment, Provider } from './provider.js';
import { stellarEndpointSchema, stellarGatewayUrl, type StellarEndpoint } from '../stellar/endpoints-file.js';

/**
 * The `endpoints` provider: functions already deployed somewhere (a cloud, another platform). Each
 * URL acts as one replica — STeLLAR's endpoints file — so bursts go round-robin over them. Nothing is
 * deployed or removed; chains are the deployed functions' own business.
 */
/** A bad endpoints file: a usage error (exit 2), naming the file and the shape expected. */
export class EndpointsFileError extends Error {}

export type EndpointsFile = { kind: 'urls'; urls: string[] } | { kind: 'stellar'; endpoints: StellarEndpoint[] };

/**
 * An endpoints file: Hivelab's JSON array of URLs, or STeLLAR's array of
 * `{GatewayID, FunctionMemoryMB, ImageSizeMB, PackageType}` (src/benchkit/stellar/endpoints-file.ts).
 */
export async function readEndpointsFileAny(file: string): Promise<EndpointsFile> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new EndpointsFileError(`--endpoints ${file}: ${(e as Error).message}`);
  }
  const expected = 'expected a JSON array of URLs, or STeLLAR\'s [{"GatewayID", "FunctionMemoryMB", "ImageSizeMB", "PackageType"}]';
  if (Array.isArray(raw) && raw.length > 0 && typeof raw[0] === 'object' && raw[0] !== null) {
    const r = z.array(stellarEndpointSchema).min(1).safeParse(raw);
    if (!r.success) {
      const i = r.error.issues[0]!;
      throw new EndpointsFileError(`--endpoints ${file}: [${i.path.join('].')}]: ${i.message} (${expected})`);
    }
    return { kind: 'stellar', endpoints: r.data };
  }
  const r = z.array(z.string().url()).min(1).safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new EndpointsFileError(`--endpoints ${file}: ${i.path.length ? `[${i.path.join('.')}]` : '(root)'}: ${i.message} (${expected})`);
  }
  return { kind: 'urls', urls: r.data };
}

/** The URLs of an endpoints file (a STeLLAR file's GatewayIDs as URLs). */
export async function readEndpointsFile(file: string): Promise<string[]> {
  const f = await readEndpointsFileAny(file);
  return f.kind === 'urls' ? f.urls : f.endpoints.map((e) => stellarGatewayUrl('', e.GatewayID));
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
