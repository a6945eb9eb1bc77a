import { z } from 'zod';
import { AnnotationError, expandKnativeAnnotations } from './knative-annotations.js';

/**
 * The `scaling` block of a function's manifest, as the researcher writes it (seconds, optional
 * fields): the autoscaler's input, so it is defined here and the manifest embeds it. config.ts
 * resolves it into a ScalingConfig (milliseconds, every field set).
 */
/** The most instances a manifest may keep (minScale) or start (initialScale) without traffic. */
export const MAX_SCALE_FLOOR = 50;

export const SCALING_METRICS = ['concurrency', 'rps'] as const;

const scalingObject = z
  .object({
    policy: z.string().min(1).optional(),
    /** KPA: what `target` counts, in-flight requests per instance (default) or requests per second. */
    metric: z.enum(SCALING_METRICS).optional(),
    target: z.number().min(0.01).optional(),
    targetUtilization: z.number().gt(0).max(1).optional(),
    stableWindowS: z.number().min(6).max(3600).optional(),
    panicWindowPct: z.number().min(1).max(100).optional(),
    panicThreshold: z.number().min(1.1).max(10).optional(),
    // Bounded so that one manifest cannot reserve the machine; what its instances would commit
    // together is checked against the fleet's memory at deploy time (control-plane.ts).
    minScale: z.number().int().min(0).max(MAX_SCALE_FLOOR).optional(),
    maxScale: z.number().int().min(0).max(1000).optional(),
    initialScale: z.number().int().min(0).max(MAX_SCALE_FLOOR).optional(),
    scaleToZeroGraceS: z.number().min(0).max(3600).optional(),
    /** KPA: scale-downs take effect only after the higher count has not been wanted for this long. */
    scaleDownDelayS: z.number().int().min(0).max(3600).optional(),
    /** KPA: from zero, scale to at least this many at once (Knative: ≥ 2 to have an effect). */
    activationScale: z.number().int().min(1).optional(),
    /** KPA: the last instance stays at least this long after the decision to go to zero. */
    scaleToZeroRetentionS: z.number().min(0).max(3600).optional(),
    maxScaleUpRate: z.number().gt(1).optional(),
    maxScaleDownRate: z.number().gt(1).optional(),
    keepAliveS: z.number().min(0).optional(),
  })
  .strict();

/** `autoscaling.knative.dev/…` keys are rewritten to the fields above first (knative-annotations.ts). */
export const scalingSchema = z.preprocess((raw, ctx) => {
  try {
    return expandKnativeAnnotations(raw);
  } catch (e) {
    if (!(e instanceof AnnotationError)) throw e;
    ctx.addIssue({ code: 'custom', message: e.message });
    return z.NEVER;
  }
}, scalingObject);
export type ScalingSpec = z.infer<typeof scalingObject>;
