import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { GoDurationError, parseGoDurationSeconds } from '../../core/go-duration.js';
import { ExperimentError, parseExperiment, type Experiment } from '../experiment.js';

/**
 * STeLLAR's experiment files, run unchanged (vhive-serverless/STeLLAR src/setup/extract-configuration.go):
 * PascalCase keys, STeLLAR's defaults (a default applies when the field holds its zero value, as in
 * Go), its IAT types and formulas (stellar/iat.ts), Go duration strings for service times, repeated
 * titles. Converted into a Hivelab experiment plus what STeLLAR's own result files need.
 *
 * Providers: with an endpoints file (`--endpoints`, STeLLAR's `[{GatewayID, FunctionMemoryMB,
 * ImageSizeMB, PackageType}]`) the sub-experiments go to those endpoints, in STeLLAR's request
 * format (GET + query); without one, STeLLAR's provider names (aws, azure, google, gcr, vhive,
 * cloudflare, aliyun, …) run on Hivelab itself. There each `Function` is a folder next to the
 * experiment file when one exists (with a function.json: a Hivelab function; without: a Lambda
 * function as written, deployed from Handler/Runtime and fed API Gateway v2 events, STeLLAR's
 * format), else Hivelab's bench-spin, which honours the same service time, payload and chain.
 */

export const STELLAR_DEFAULTS = {
  provider: 'aws',
  runtime: 'python3.9',
  iatType: 'stochastic',
  packageType: 'Zip',
  parallelism: 1,
  visualization: 'cdf',
  function: 'hellopy',
  functionMemoryMB: 128,
  dataTransferChainLength: 1,
  handler: 'main.lambda_handler',
  packagePattern: '**',
} as const;

const stellarSub = z
  .object({
    Title: z.string().default(''),
    Bursts: z.number().int().min(0).default(0),
    BurstSizes: z.array(z.number().int().min(1)).default([]),
    PayloadLengthBytes: z.number().int().min(0).default(0),
    IATSeconds: z.number().min(0).default(0),
    DesiredServiceTimes: z.array(z.string()).default([]),
    IATType: z.string().default(''),
    PackageType: z.string().default(''),
    PackagePattern: z.string().default(''),
    Parallelism: z.number().int().min(0).default(0),
    Visualization: z.string().default(''),
    Function: z.string().default(''),
    Handler: z.string().default(''),
    Runtime: z.string().default(''),
    FunctionMemoryMB: z.number().int().min(0).default(0),
    FunctionImageSizeMB: z.number().min(0).default(0),
    DataTransferChainLength: z.number().int().min(0).default(0),
    StorageTransfer: z.boolean().default(false),
    SnapStartEnabled: z.boolean().default(false),
    CPUBoostEnabled: z.boolean().default(false),
  })
  .strict();

const stellarFile = z
  .object({
    Sequential: z.boolean().default(false),
    Provider: z.string().default(''),
    Runtime: z.string().default(''),
    SubExperiments: z.array(stellarSub).min(1),
  })
  .strict();

export type StellarSub = z.infer<typeof stellarSub>;
export type StellarFile = z.infer<typeof stellarFile>;

/** A STeLLAR file is recognised by its PascalCase top level (Hivelab's own files are camelCase). */
export function isStellarExperiment(raw: unknown): boolean {
  return raw !== null && typeof raw === 'object' && !Array.isArray(raw) && 'SubExperiments' in raw;
}

/** The sub-experiment settings STeLLAR's own result folders are named after. */
export interface StellarSubInfo {
  title: string;
  memoryMB: number;
  imageSizeMB: number;
  iatSeconds: number;
  burstSize0: number;
  serviceTime0: string;
  payloadBytes: number;
  chainLength: number;
  packageType: string;
  replicas: number;
}

export interface ConvertedStellar {
  experiment: Experiment;
  provider: string;
  subs: StellarSubInfo[];
  /** Things the researcher should know (a function not found locally, an unknown IAT type). */
  notes: string[];
}

export interface StellarConvertOptions {
  /** An endpoints file was given: the sub-experiments go to its endpoints. */
  endpoints: boolean;
  /** Folder of the experiment file (local `Function` folders resolve against it). */
  experimentDir: string;
}

const IAT_MAP: Record<string, 'stellar-stochastic' | 'stellar-deterministic' | 'stellar-step'> = {
  stochastic: 'stellar-stochastic',
  deterministic: 'stellar-deterministic',
  step: 'stellar-step',
};

function fail(source: string, path: string, message: string): never {
  throw new ExperimentError(`${source} is invalid:\n  ${path}: ${message}`);
}

export function convertStellar(raw: unknown, source: string, opts: StellarConvertOptions): ConvertedStellar {
  const r = stellarFile.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => {
      const path = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '') || '(root)';
      const msg = i.code === 'unrecognized_keys' ? `unknown STeLLAR field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message;
      return `  ${path}: ${msg}`;
    });
    throw new ExperimentError(`${source} (a STeLLAR experiment) is invalid:\n${lines.join('\n')}`);
  }
  const file = r.data;
  const provider = file.Provider || STELLAR_DEFAULTS.provider;
  const runtime = file.Runtime || STELLAR_DEFAULTS.runtime;
  const notes: string[] = [];
  const seenTitles = new Map<string, number>();
  const subs: StellarSubInfo[] = [];
  const hivelabSubs = file.SubExperiments.map((s, i) => {
    const at = `SubExperiments[${i}]`;
    // STeLLAR names each output folder after BurstSizes[0] and DesiredServiceTimes[0]: both must exist.
    if (s.BurstSizes.length === 0) fail(source, `${at}.BurstSizes`, 'must hold at least one burst size (STeLLAR names the result folder after the first)');
    if (s.DesiredServiceTimes.length === 0) fail(source, `${at}.DesiredServiceTimes`, 'must hold at least one service time, e.g. ["0ms"]');
    if (s.Bursts < 1) fail(source, `${at}.Bursts`, 'must be at least 1');
    const serviceTimes = s.DesiredServiceTimes.map((d, k) => {
      try {
        return parseGoDurationSeconds(d, false) * 1000;
      } catch (e) {
        if (e instanceof GoDurationError) fail(source, `${at}.DesiredServiceTimes[${k}]`, e.message);
        throw e;
      }
    });
    const iatType = IAT_MAP[s.IATType || STELLAR_DEFAULTS.iatType];
    if (!iatType) notes.push(`${at}: IATType "${s.IATType}" is unknown to STeLLAR too; like STeLLAR, it runs as "stochastic"`);
    const chainLength = s.DataTransferChainLength || STELLAR_DEFAULTS.dataTransferChainLength;
    const memoryMB = s.FunctionMemoryMB || STELLAR_DEFAULTS.functionMemoryMB;
    // Repeated titles are legal in STeLLAR (its folders differ by settings); Hivelab's report needs unique ones.
    const n = (seenTitles.get(s.Title) ?? 0) + 1;
    seenTitles.set(s.Title, n);
    const title = (s.Title || `sub-experiment ${i}`) + (n > 1 ? ` (${n})` : '');
    subs.push({
      title: s.Title,
      memoryMB,
      imageSizeMB: s.FunctionImageSizeMB,
      iatSeconds: s.IATSeconds,
      burstSize0: s.BurstSizes[0]!,
      serviceTime0: s.DesiredServiceTimes[0]!,
      payloadBytes: s.PayloadLengthBytes,
      chainLength,
      packageType: s.PackageType || STELLAR_DEFAULTS.packageType,
      replicas: s.Parallelism || STELLAR_DEFAULTS.parallelism,
    });
    const common = {
      title,
      bursts: s.Bursts,
      burstSizes: s.BurstSizes,
      iatSeconds: s.IATSeconds,
      iatType: iatType ?? 'stellar-stochastic',
      serviceTimes,
      payloadBytes: s.PayloadLengthBytes,
      chainLength,
      transfer: s.StorageTransfer && chainLength > 1 ? 'storage' : 'inline',
      memoryMB: Math.max(32, memoryMB),
      imageSizeMB: s.FunctionImageSizeMB,
      replicas: s.Parallelism || STELLAR_DEFAULTS.parallelism,
      // STeLLAR keeps one connection per request and follows no redirects; a fresh seed per sub-experiment.
      seed: i + 1,
    };
    if (opts.endpoints) return { ...common, requestFormat: 'stellar' as const };
    const fn = s.Function || STELLAR_DEFAULTS.function;
    const local = isAbsolute(fn) ? fn : resolve(opts.experimentDir, fn);
    if (existsSync(local) && statSync(local).isDirectory()) {
      if (existsSync(join(local, 'function.json'))) return { ...common, function: local };
      // A Lambda function as STeLLAR deploys it: Handler and Runtime from the file, API Gateway events.
      return {
        ...common,
        function: local,
        requestFormat: 'stellar' as const,
        functionSettings: { name: 'stellar', runtime: s.Runtime || runtime, handler: s.Handler || STELLAR_DEFAULTS.handler, event: 'apigateway-v2' },
      };
    }
    notes.push(`${at}: STeLLAR function "${fn}" has no folder at ${local}; running Hivelab's bench-spin, which honours the same service time, payload and chain`);
    return { ...common, function: 'bench-spin' };
  });
  const hivelabProvider = opts.endpoints ? 'endpoints' : 'hivelab';
  const experiment = parseExperiment({ provider: hivelabProvider, sequential: file.Sequential, subExperiments: hivelabSubs }, source);
  return { experiment, provider, subs, notes };
}

/** STeLLAR's result folder name for a sub-experiment (src/benchmarking/trigger.go). */
export function stellarSubDirName(s: StellarSubInfo): string {
  return `${s.title}-memory${s.memoryMB}MB-img${Math.trunc(s.imageSizeMB)}MB-IAT${s.iatSeconds}s-burst${s.burstSize0}-st${s.serviceTime0}-payload${Math.trunc(s.payloadBytes / 1024)}KB`;
}
