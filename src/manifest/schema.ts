import { z } from 'zod';
import { scalingSchema, type ScalingSpec } from '../autoscaler/spec.js';

// The `scaling` block is the autoscaler's own vocabulary (autoscaler/spec.ts); the manifest embeds it.
export { scalingSchema, type ScalingSpec };
import { refusedEnvReason } from './env-rule.js';
import { runtimeFromAlias } from './runtime-aliases.js';

/**
 * The `function.json` manifest. Every field a researcher may set lives here, so a typo or a bad
 * value is refused at deploy time with the field's path in the message instead of surfacing later
 * as an odd instance failure.
 */

export const RUNTIMES = ['node', 'python'] as const;
export type Runtime = (typeof RUNTIMES)[number];

export const COLD_START_MODES = ['boot', 'snapshot', 'lazy', 'reap', 'criu-lazy'] as const;
export type ColdStartMode = (typeof COLD_START_MODES)[number];

/** How the instance is reached: the runtime shim protocol over HTTP/1.1, or gRPC (HTTP/2) calls passed through. */
export const PROTOCOLS = ['http', 'grpc'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export const TRANSFERS = ['inline', 'storage', 'redis', 'xdt'] as const;
export type Transfer = (typeof TRANSFERS)[number];

export const HTTP_EVENT_FORMATS = ['raw', 'apigateway-v1', 'apigateway-v2'] as const;
export type HttpEventFormat = (typeof HTTP_EVENT_FORMATS)[number];

const FUNCTION_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

/**
 * Where an image function's image was read from (`hivelab deploy --image`): a registry repository,
 * or a local layout or archive under the transport skopeo reads it with. `hivelab export knative`
 * names the image by it: a registry's by digest, a local one by where it is to be pushed.
 */
export const imageOriginSchema = z.discriminatedUnion('transport', [
  z
    .object({
      transport: z.literal('registry'),
      /** `host[:port]/name`, e.g. `registry.example.com/lab/hello`: what a pull spec names, without tag or digest. */
      repository: z.string().regex(/^[^\s@]+\/[^\s@:]+$/, 'must be host[:port]/name').max(1024),
    })
    .strict(),
  z
    .object({
      transport: z.enum(['oci', 'oci-archive', 'docker-archive']),
      /** The folder or file, absolute. */
      path: z.string().regex(/^\//, 'must be an absolute path').max(4096),
      /** The tag it was picked by, where the reference named one. */
      tag: z.string().min(1).max(256).optional(),
    })
    .strict(),
]);
export type ImageOrigin = z.infer<typeof imageOriginSchema>;

export { MAX_SCALE_FLOOR } from '../autoscaler/spec.js';

export const manifestSchema = z
  .object({
    name: z.string().regex(FUNCTION_NAME, 'must be lower-case letters, digits and dashes (max 63)'),
    /** `node`/`python`, or a Lambda runtime name (`nodejs20.x`, `python3.12`, …) as an alias. */
    runtime: z.preprocess(runtimeFromAlias, z.enum(RUNTIMES)),
    handler: z
      .string()
      .regex(/^[A-Za-z0-9_./-]+\.[A-Za-z_$][A-Za-z0-9_$]*$/, 'must look like "module.function", e.g. "index.handler"')
      .optional(),
    /**
     * A server program instead of a handler (Knative's runtime contract): the instance runs this
     * argv in /var/task and the platform reaches it on 127.0.0.1:$PORT inside the sandbox.
     */
    command: z.array(z.string().min(1).max(4096)).min(1).max(64).optional(),
    /** The port a `command` listens on ($PORT in its environment; Knative's default is 8080). */
    port: z.number().int().min(1).max(65535).default(8080),
    protocol: z.enum(PROTOCOLS).default('http'),
    description: z.string().max(2000).optional(),
    memoryMB: z.number().int().min(32).max(8192).default(256),
    timeoutMs: z.number().int().min(1).max(15 * 60_000).default(30_000),
    concurrency: z.number().int().min(1).max(1000).default(1),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names must be identifiers').max(128), z.string().max(4096))
      .refine((e) => Object.keys(e).length <= 64, 'at most 64 variables')
      .superRefine((env, ctx) => {
        for (const name of Object.keys(env)) {
          const why = refusedEnvReason(name);
          if (why) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: `${name} is refused: ${why}` });
        }
      })
      .default({}),
    // padding models a large image for cold-start experiments; 1 GB was never needed and 4 GB per
    // version let one deploy fill the disk
    paddingMB: z.number().min(0).max(1024).default(0),
    coldStart: z.enum(COLD_START_MODES).optional(),
    transfer: z.enum(TRANSFERS).optional(),
    scaling: scalingSchema.optional(),
    /**
     * What an HTTP invocation hands the handler: the raw body (default), or an API Gateway proxy
     * event (REST v1 / HTTP API v2) whose `{statusCode, headers, body, isBase64Encoded}` result
     * becomes the HTTP response (src/gateway/apigateway-event.ts). A request may choose per call
     * with the header `x-hivelab-event`.
     */
    event: z.enum(HTTP_EVENT_FORMATS).optional(),
    /**
     * The function is an OCI image (`hivelab deploy --image`): its root filesystem is the image's,
     * assembled from the platform's image store by `id`; `command` is the image's Entrypoint+Cmd.
     * Filled in from the image config (src/image/image-config.ts), docs/IMAGES.md.
     */
    image: z
      .object({
        /** The image id: its config's digest. */
        id: z.string().regex(SHA256_DIGEST, 'must be sha256:<64 hex digits>'),
        /** The reference it was deployed from (display only). */
        ref: z.string().min(1).max(4096),
        /**
         * The digest of the manifest that was run (for a multi-platform index, this host's
         * platform's manifest), where the image has one: not a docker-archive's.
         */
        digest: z.string().regex(SHA256_DIGEST, 'must be sha256:<64 hex digits>').optional(),
        /** Where it was read from (docs/IMAGES.md); absent in deployments made before it was recorded. */
        origin: imageOriginSchema.optional(),
        workingDir: z.string().regex(/^\//, 'must be an absolute path').max(4096).default('/'),
        /**
         * The image's Env: reaches only the image's program (not the platform's bridge), so the
         * manifest `env` rules, which guard the platform's runtimes, do not apply to it.
         */
        env: z
          .record(z.string().regex(/^[^=\0]+$/, 'env names cannot hold "=" or NUL').max(256), z.string().max(32_768))
          .refine((e) => Object.keys(e).length <= 256, 'at most 256 variables')
          .default({}),
        user: z.string().max(256).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    // Exactly one way to run the function: a handler the runtime shim loads, or a server program.
    if (m.handler === undefined && m.command === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['handler'], message: 'required (or "command" for a server program)' });
    }
    if (m.handler !== undefined && m.command !== undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['command'], message: 'give either "handler" or "command", not both' });
    }
    // gRPC calls are passed through to a server the function runs; the handler shims speak HTTP/1.1 only.
    if (m.protocol === 'grpc' && m.command === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['command'], message: 'a "grpc" function needs "command": the gRPC server it runs' });
    }
    if (m.image !== undefined && m.command === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['command'], message: 'an "image" function needs "command": the program the image runs' });
    }
    if (m.env.PORT !== undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['env', 'PORT'], message: 'PORT is set by the platform (use "port")' });
    }
  });

export type FunctionManifest = z.infer<typeof manifestSchema>;
