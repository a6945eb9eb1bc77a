import { z } from 'zod';
import type { SubExperiment } from '../experiment.js';
import type { Deployment, Provider } from '../providers/provider.js';
import type { StellarSubInfo } from './experiment-file.js';

/**
 * STeLLAR's endpoints file (src/setup/deployment/connection/connection.go): a JSON array of
 * `{GatewayID, FunctionMemoryMB, ImageSizeMB, PackageType}`. Each sub-experiment takes, per replica
 * (Parallelism), the first unused endpoint whose PackageType and memory are equal and whose image
 * size is within 5 MB (assign-endpoints.go), plus one more per extra chain function: those become
 * the request's DataTransferChainIDs. A GatewayID becomes a URL the way STeLLAR's HTTP client
 * builds it for the provider (benchhttp/create.go); a GatewayID that already is an http(s) URL is
 * used as it is (a Hivelab or any other endpoint).
 */
export const stellarEndpointSchema = z
  .object({
    GatewayID: z.string().min(1),
    FunctionMemoryMB: z.number().int().min(0).default(0),
    ImageSizeMB: z.number().min(0).default(0),
    PackageType: z.string().default(''),
  })
  .passthrough();
export type StellarEndpoint = z.infer<typeof stellarEndpointSchema>;

export const IMAGE_SIZE_TOLERANCE_MB = 5;

/** The URL STeLLAR's client requests for a gateway of a provider (routes are empty with an endpoints file). */
export function stellarGatewayUrl(provider: string, id: string): string {
  if (/^https?:\/\//.test(id)) return id;
  switch (provider) {
    case 'aws':
      return `https://${id}.execute-api.us-west-1.amazonaws.com/`;
    case 'azure':
      return `https://${id}.azurewebsites.net/api/`;
    case 'aliyun':
      return `http://${id}-us-west-1.alicloudapi.com/`;
    case 'vhive':
      // STeLLAR speaks gRPC to vHive; its Knative services answer HTTP on the same host too.
      return `http://${id}/`;
    default:
      // google (the ID carries the path), gcr, cloudflare, and any other: https://{ID}
      return `https://${id.replace(/\/?$/, id.includes('/') ? '' : '/')}`;
  }
}

export interface Assignment {
  urls: string[];
  /** Per replica: the GatewayIDs of the chain's further functions. */
  chains: string[][];
}

/** STeLLAR's specsMatch: equal PackageType and memory; image size within 5 MB, except for Image packages (AWS hides it). */
export function specsMatch(e: StellarEndpoint, s: Pick<StellarSubInfo, 'packageType' | 'memoryMB' | 'imageSizeMB'>): boolean {
  if (e.PackageType !== s.packageType || e.FunctionMemoryMB !== s.memoryMB) return false;
  return s.packageType === 'Image' || Math.abs(e.ImageSizeMB - s.imageSizeMB) <= IMAGE_SIZE_TOLERANCE_MB;
}

/**
 * Assigns endpoints to every sub-experiment in order, consuming them as STeLLAR does (including its
 * swap-with-last removal, which decides which endpoint the next search finds first). A Zip
 * sub-experiment with no match takes any unused Zip endpoint, as STeLLAR "repurposes" one (it would
 * also change the function's memory on AWS: not possible here, so `notes` says so).
 */
export function assignStellarEndpoints(endpoints: readonly StellarEndpoint[], subs: readonly StellarSubInfo[], provider: string, notes: string[] = []): Assignment[] {
  const free = [...endpoints];
  const remove = (k: number): StellarEndpoint => {
    const e = free[k]!;
    free[k] = free[free.length - 1]!;
    free.pop();
    return e;
  };
  const take = (s: StellarSubInfo, i: number): StellarEndpoint => {
    const k = free.findIndex((e) => specsMatch(e, s));
    if (k >= 0) return remove(k);
    if (s.packageType === 'Zip') {
      const z = free.findIndex((e) => e.PackageType === 'Zip');
      if (z >= 0) {
        const e = remove(z);
        notes.push(`sub-experiment ${i} "${s.title}": no endpoint matches ${s.memoryMB} MB; like STeLLAR, repurposing Zip endpoint ${e.GatewayID} (${e.FunctionMemoryMB} MB; its memory is not changed)`);
        return e;
      }
    }
    throw new Error(
      `sub-experiment ${i} "${s.title}": no unused endpoint with PackageType "${s.packageType}", FunctionMemoryMB ${s.memoryMB}` +
        `${s.packageType === 'Image' ? '' : ` and ImageSizeMB within ${IMAGE_SIZE_TOLERANCE_MB} of ${s.imageSizeMB}`} ` +
        `(it needs ${s.replicas} × ${s.chainLength}; ${free.length} unused endpoint(s) left)`,
    );
  };
  return subs.map((s, i) => {
    const urls: string[] = [];
    const chains: string[][] = [];
    for (let r = 0; r < s.replicas; r++) {
      urls.push(stellarGatewayUrl(provider, take(s, i).GatewayID));
      const chain: string[] = [];
      for (let j = s.chainLength; j > 1; j--) chain.push(take(s, i).GatewayID);
      chains.push(chain);
    }
    return { urls, chains };
  });
}

/** The endpoints provider for a STeLLAR endpoints file: nothing deployed, nothing removed. */
export class StellarEndpointsProvider implements Provider {
  readonly name = 'endpoints' as const;
  constructor(private readonly assignments: readonly Assignment[]) {}

  async deploy(_sub: SubExperiment, index: number): Promise<Deployment> {
    const a = this.assignments[index]!;
    return { urls: [...a.urls], headers: {}, chain: (replica) => a.chains[replica % a.chains.length] ?? [] };
  }

  async teardown(): Promise<void> {}
}
