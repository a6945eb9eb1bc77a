/**
 * The AWS Lambda half of a Node handler's `context` (Lambda developer guide, "Node.js context
 * object"): request id, remaining time, function name/version/memory/ARN, log group and stream,
 * identity and clientContext. Values come from the Lambda environment variables the platform sets
 * for every instance (src/runtime/lambda-env.ts), so a handler reads the same thing either way.
 * Built per invocation: it is a dozen property writes, no I/O.
 */
export interface LambdaContextFields {
  awsRequestId: string;
  functionName: string;
  functionVersion: string;
  /** A string, as on Lambda (it is read from AWS_LAMBDA_FUNCTION_MEMORY_SIZE there too). */
  memoryLimitInMB: string;
  invokedFunctionArn: string;
  logGroupName: string;
  logStreamName: string;
  identity: undefined | { cognitoIdentityId: string; cognitoIdentityPoolId: string };
  clientContext: unknown;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

/** The per-function fields, read from the environment once at start-up (they never change). */
export interface LambdaStatic {
  functionVersion: string;
  memoryLimitInMB: string;
  invokedFunctionArn: string;
  logGroupName: string;
  logStreamName: string;
}

export function lambdaStatic(env: NodeJS.ProcessEnv): LambdaStatic {
  return {
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '',
    invokedFunctionArn: env.HIVELAB_LAMBDA_ARN ?? '',
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME ?? '',
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME ?? '',
  };
}

/** The whole Lambda half of a context (tests and tools; the shim builds its literal directly). */
export function lambdaContextFields(env: NodeJS.ProcessEnv, requestId: string, deadline: number, clientContext: unknown): LambdaContextFields {
  const st = lambdaStatic(env);
  return {
    awsRequestId: requestId,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME ?? '',
    ...st,
    identity: undefined,
    clientContext,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

/** The `X-Amz-Client-Context` header (base64 JSON) the Invoke API passes on; undefined if absent or unreadable. */
export function decodeClientContext(header: string | undefined): unknown {
  if (!header) return undefined;
  try {
    return JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
}
