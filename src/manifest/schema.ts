import { z } from 'zod';

/**
 * The `function.json` manifest. Every field a researcher may set lives here, so a typo or a bad
 * value is refused at deploy time with the field's path in the message instead of surfacing later
 * as an odd instance failure.
 */

export const RUNTIMES = ['node', 'python'] as const;
export type Runtime = (typeof RUNTIMES)[number];

export const COLD_START_MODES = ['boot', 'snapshot', 'lazy', 'reap', 'criu-lazy'] as const;
export type ColdStartMode = (typeof COLD_START_MODES)[number];

export const TRANSFERS = ['inline', 'storage', 'redis', 'xdt'] as const;
export type Transfer = (typeof TRANSFERS)[number];

const FUNCTION_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The most instances a manifest may keep (minScale) or start (initialScale) without traffic. */
export const MAX_SCALE_FLOOR = 50;

export const scalingSchema = z
  .object({
    policy: z.string().min(1).optional(),
    target: z.number().positive().optional(),
    targetUtilization: z.number().gt(0).max(1).optional(),
    stableWindowS: z.number().min(6).max(3600).optional(),
    panicWindowPct: z.number().min(1).max(100).optional(),
    panicThreshold: z.number().min(1.1).max(10).optional(),
    // Bounded so that one manifest cannot reserve the machine; what its instances would commit
    // together is checked against the fleet's memory at deploy time (control-plane.ts).
    minScale: z.number().int().min(0).max(MAX_SCALE_FLOOR).optional(),
    maxScale: z.number().int().min(0).max(1000).optional(),
    initialScale: z.number().int().min(0).max(MAX_SCALE_FLOOR).optional(),
    scaleToZeroGraceS: z.number().min(0).optional(),
    keepAliveS: z.number().min(0).optional(),
  })
  .strict();
export type ScalingSpec = z.infer<typeof scalingSchema>;

export const manifestSchema = z
  .object({
    name: z.string().regex(FUNCTION_NAME, 'must be lower-case letters, digits and dashes (max 63)'),
    runtime: z.enum(RUNTIMES),
    handler: z
      .string()
      .regex(/^[A-Za-z0-9_./-]+\.[A-Za-z_$][A-Za-z0-9_$]*$/, 'must look like "module.function", e.g. "index.handler"'),
    description: z.string().max(2000).optional(),
    memoryMB: z.number().int().min(32).max(8192).default(256),
    timeoutMs: z.number().int().min(1).max(15 * 60_000).default(30_000),
    concurrency: z.number().int().min(1).max(1000).default(1),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names must be identifiers').max(128), z.string().max(4096))
      .refine((e) => Object.keys(e).length <= 64, 'at most 64 variables')
      .default({}),
    // padding models a large image for cold-start experiments; 1 GB was never needed and 4 GB per
    // version let one deploy fill the disk
    paddingMB: z.number().min(0).max(1024).default(0),
    coldStart: z.enum(COLD_START_MODES).optional(),
    transfer: z.enum(TRANSFERS).optional(),
    scaling: scalingSchema.optional(),
  })
  .strict();

export type FunctionManifest = z.infer<typeof manifestSchema>;
