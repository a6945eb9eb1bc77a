import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * A STeLLAR experiment file: one provider, a list of sub-experiments run one after another
 * (`sequential: true`) or all at once. Field names follow the thesis (§3.3) so an experiment reads
 * like the paper's description of it. Every field is checked up front, so a typo fails before any
 * function is deployed or any request is sent, with the field's path in the message.
 */

export const PROVIDERS = ['hivelab', 'endpoints', 'knative'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

/** `stellar-*`: STeLLAR's own IAT types and round structure (src/benchkit/stellar/iat.ts). */
export const IAT_TYPES = ['fixed', 'exponential', 'shifted-exponential', 'step', 'stellar-stochastic', 'stellar-deterministic', 'stellar-step'] as const;
export type IatType = (typeof IAT_TYPES)[number];

export const BENCH_TRANSFERS = ['inline', 'storage', 'xdt'] as const;
export type BenchTransfer = (typeof BENCH_TRANSFERS)[number];

export const subExperimentSchema = z
  .object({
    title: z.string().min(1),
    /** A function folder (relative to the experiment file) or a name under bench-functions/. */
    function: z.string().min(1).default('bench-spin'),
    bursts: z.number().int().min(1),
    /** Requests per burst; burst k uses burstSizes[k % length] (STeLLAR cycles the list). */
    burstSizes: z.array(z.number().int().min(1)).min(1).default([1]),
    iatSeconds: z.number().min(0),
    iatType: z.enum(IAT_TYPES).default('fixed'),
    /** shifted-exponential only: the minimum IAT; defaults to half of iatSeconds. */
    iatShiftSeconds: z.number().min(0).optional(),
    /** Busy-spin time inside the function, ms; request k uses serviceTimes[k % length]. */
    serviceTimes: z.array(z.number().min(0)).min(1).default([0]),
    payloadBytes: z.number().int().min(0).default(0),
    chainLength: z.number().int().min(1).max(100).default(1),
    transfer: z.enum(BENCH_TRANSFERS).default('inline'),
    memoryMB: z.number().int().min(32).max(16384).default(256),
    imageSizeMB: z.number().min(0).max(4096).default(0),
    replicas: z.number().int().min(1).max(1000).default(1),
    /** Requests sent (and discarded) before the measured bursts, to warm instances up. */
    warmup: z.number().int().min(0).default(0),
    /** A response at least this slow counts as cold when the target gives no x-hivelab-cold header. */
    coldThresholdMs: z.number().positive().default(500),
    endpoints: z.array(z.string().url()).min(1).optional(),
    /**
     * How a request reaches the function: `hivelab` (POST, JSON body, what bench-functions read) or
     * `stellar` (STeLLAR's GET with IncrementLimit, PayloadLengthBytes and DataTransferChainIDs in the
     * query, what STeLLAR's own functions read).
     */
    requestFormat: z.enum(['hivelab', 'stellar']).default('hivelab'),
    /**
     * function.json fields for a `function` folder that has none (a Lambda function as written, e.g.
     * STeLLAR's hellopy: {"runtime": "python3.9", "handler": "lambda_function.lambda_handler", "event": "apigateway-v2"}).
     */
    functionSettings: z.record(z.unknown()).optional(),
    /** stellar request format: busy-spin loop increments per ms of service time (default: calibrated on this host). */
    incrementsPerMs: z.number().positive().optional(),
    /** Requests one instance serves at once (hivelab manifest `concurrency`, Knative containerConcurrency). */
    concurrency: z.number().int().min(1).max(1000).default(1),
    /** knative only: the container image running the function (the padding must be baked into it). */
    image: z.string().min(1).optional(),
    /** HTTP connections kept per origin; 0 = a new connection for every request (no reuse). */
    connections: z.number().int().min(0).max(10_000).default(64),
    /** Keep-alive reuse of connections; false opens a fresh connection per request (counts its set-up in the latency). */
    reuseConnections: z.boolean().default(true),
    /** Per-request timeout. */
    timeoutMs: z.number().int().positive().default(120_000),
    /**
     * gRPC functions: each request is one unary call of `method` ("package.Service/Method") with
     * `request` encoded by `proto` (relative to the experiment file), instead of an HTTP POST.
     */
    grpc: z
      .object({
        proto: z.string().min(1),
        method: z.string().regex(/^[A-Za-z_][\w.]*\.[A-Za-z_]\w*\/[A-Za-z_]\w*$/, 'must look like "package.Service/Method"'),
        request: z.record(z.unknown()).default({}),
      })
      .strict()
      .optional(),
    /** RNG seed for stochastic IATs; fixed so a rerun replays the same schedule. */
    seed: z.number().int().default(1),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.iatShiftSeconds !== undefined && s.iatType !== 'shifted-exponential') {
      ctx.addIssue({ code: 'custom', path: ['iatShiftSeconds'], message: 'only applies to iatType "shifted-exponential"' });
    }
    if (s.iatType === 'shifted-exponential' && s.iatShiftSeconds !== undefined && s.iatShiftSeconds >= s.iatSeconds && s.iatSeconds > 0) {
      ctx.addIssue({ code: 'custom', path: ['iatShiftSeconds'], message: 'must be below iatSeconds (the mean IAT)' });
    }
    if (s.grpc && s.chainLength > 1) {
      ctx.addIssue({ code: 'custom', path: ['grpc'], message: 'gRPC sub-experiments call one function (chainLength 1)' });
    }
    if (s.chainLength === 1 && s.transfer !== 'inline') {
      ctx.addIssue({ code: 'custom', path: ['transfer'], message: 'needs chainLength > 1 (transfers happen between chained functions)' });
    }
  });
export type SubExperiment = z.infer<typeof subExperimentSchema>;

export const experimentSchema = z
  .object({
    provider: z.enum(PROVIDERS),
    sequential: z.boolean().default(true),
    /** Send-lag p99 (ms) above which the run is declared distorted and fails. */
    maxSendLagP99Ms: z.number().positive().default(1),
    /** Title of the base warm sub-experiment that table 3.1's MR and TR are normalised to; default the first. */
    baseline: z.string().min(1).optional(),
    subExperiments: z.array(subExperimentSchema).min(1),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.baseline !== undefined && !e.subExperiments.some((s) => s.title === e.baseline)) {
      ctx.addIssue({ code: 'custom', path: ['baseline'], message: `no sub-experiment titled "${e.baseline}"` });
    }
    const seen = new Set<string>();
    e.subExperiments.forEach((s, i) => {
      if (seen.has(s.title)) ctx.addIssue({ code: 'custom', path: ['subExperiments', i, 'title'], message: `duplicate title "${s.title}"` });
      seen.add(s.title);
    });
    if (e.provider === 'endpoints') return; // endpoints may come from --endpoints FILE instead
    e.subExperiments.forEach((s, i) => {
      if (s.endpoints) ctx.addIssue({ code: 'custom', path: ['subExperiments', i, 'endpoints'], message: `only for provider "endpoints", not "${e.provider}"` });
    });
  });
export type Experiment = z.infer<typeof experimentSchema>;

export class ExperimentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExperimentError';
  }
}

function formatPath(path: (string | number)[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') || '(root)';
}

/** Validates a parsed experiment; throws ExperimentError listing each bad field as `path: message`. */
export function parseExperiment(raw: unknown, source = 'experiment'): Experiment {
  const r = experimentSchema.safeParse(raw);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${formatPath(i.path)}: ${i.message}`);
  throw new ExperimentError(`${source} is invalid:\n${lines.join('\n')}`);
}

/** The parsed but unvalidated content of a .json, .yaml or .yml experiment file. */
export async function readExperimentFile(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8');
  try {
    return extname(file) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ExperimentError(`${file}: not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
}

/** Reads a .json, .yaml or .yml experiment file. */
export async function loadExperiment(file: string): Promise<Experiment> {
  return resolvePathsFrom(parseExperiment(await readExperimentFile(file), file), file);
}

/** A proto path is relative to the experiment file, like `function`: made absolute here (every reader of a file must). */
export function resolvePathsFrom(exp: Experiment, file: string): Experiment {
  for (const sub of exp.subExperiments) if (sub.grpc) sub.grpc.proto = resolve(dirname(file), sub.grpc.proto);
  return exp;
}
