import type { FunctionManifest } from '../manifest/schema.js';

/**
 * The environment AWS Lambda gives every function (Lambda developer guide, "Defined runtime
 * environment variables"), set by the platform for every instance so code written for Lambda finds
 * what it reads there. Hivelab has no region or account: the region defaults to us-east-1 (a
 * manifest `env.AWS_REGION` overrides it, and the ARN follows) and the account is LocalStack's
 * 000000000000. No credentials are set: a function holds none of the host's.
 */
export const LAMBDA_DEFAULT_REGION = 'us-east-1';
export const LAMBDA_ACCOUNT_ID = '000000000000';

export function lambdaFunctionArn(name: string, region = LAMBDA_DEFAULT_REGION): string {
  return `arn:aws:lambda:${region}:${LAMBDA_ACCOUNT_ID}:function:${name}`;
}

/** Lambda's log stream name: `YYYY/MM/DD/[$LATEST]<id>`; the id is the instance's. */
export function lambdaLogStream(instanceId: string, now = new Date()): string {
  const d = now.toISOString().slice(0, 10).replace(/-/g, '/');
  return `${d}/[$LATEST]${instanceId.replace(/[^A-Za-z0-9-]/g, '')}`;
}

export function lambdaEnv(m: Pick<FunctionManifest, 'name' | 'runtime' | 'handler' | 'memoryMB' | 'env'>, instanceId: string, taskRoot: string, runtimeDir: string): Record<string, string> {
  const region = m.env.AWS_REGION ?? LAMBDA_DEFAULT_REGION;
  const runtimeName = m.runtime === 'node' ? `nodejs${process.versions.node.split('.')[0]}.x` : 'python3';
  return {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_EXECUTION_ENV: `AWS_Lambda_${runtimeName}`,
    AWS_LAMBDA_FUNCTION_NAME: m.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(m.memoryMB),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${m.name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: lambdaLogStream(instanceId),
    LAMBDA_TASK_ROOT: taskRoot,
    LAMBDA_RUNTIME_DIR: runtimeDir,
    _HANDLER: m.handler ?? '',
    TZ: 'UTC',
    // Not a Lambda variable: the shims read the ARN for context.invokedFunctionArn from here.
    HIVELAB_LAMBDA_ARN: lambdaFunctionArn(m.name, region),
  };
}
