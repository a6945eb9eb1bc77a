import { z } from 'zod';

/**
 * The `scaling` block of a function's manifest, as the researcher writes it (seconds, optional
 * fields): the autoscaler's input, so it is defined here and the manifest embeds it. config.ts
 * resolves it into a ScalingConfig (milliseconds, every field set).
 */
export const scalingSchema = z
  .object({
    policy: z.string().min(1).optional(),
    target: z.number().positive().optional(),
    targetUtilization: z.number().gt(0).max(1).optional(),
    stableWindowS: z.number().min(6).max(3600).optional(),
    panicWindowPct: z.number().min(1).max(100).optional(),
    panicThreshold: z.number().min(1.1).max(10).optional(),
    minScale: z.number().int().min(0).optional(),
    maxScale: z.number().int().min(0).optional(),
    initialScale: z.number().int().min(0).optional(),
    scaleToZeroGraceS: z.number().min(0).optional(),
    keepAliveS: z.number().min(0).optional(),
  })
  .strict();
export type ScalingSpec = z.infer<typeof scalingSchema>;
