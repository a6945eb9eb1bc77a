/**
 * AWS Lambda's runtime identifiers accepted as aliases of Hivelab's two runtimes, so a Lambda
 * function's settings (SAM/serverless `Runtime: nodejs20.x`) carry over unchanged. The instance
 * still runs the host's Node or Python: the version in the name is not enforced (docs/COMING-FROM.md).
 */
const LAMBDA_RUNTIME = /^(nodejs(\d+)\.x|python3\.(\d+))$/;

/** The Lambda runtime name for `AWS_EXECUTION_ENV` and the like; undefined for a Hivelab name. */
export function isLambdaRuntimeName(name: string): boolean {
  return LAMBDA_RUNTIME.test(name);
}

/** 'nodejs20.x' → 'node', 'python3.12' → 'python'; anything else unchanged (the schema judges it). */
export function runtimeFromAlias(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  const m = LAMBDA_RUNTIME.exec(raw);
  if (!m) return raw;
  return m[2] !== undefined ? 'node' : 'python';
}
