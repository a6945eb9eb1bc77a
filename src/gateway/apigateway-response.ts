import type { InvocationResult } from '../core/invocation.js';
import { internalServerError, mapProxyResult } from './apigateway-event.js';

/**
 * The gateway's side of an API Gateway proxy invocation: the instance's answer becomes the HTTP
 * response the function asked for, or API Gateway's 502 `{"message":"Internal server error"}`
 * when the function failed or answered a shape API Gateway would refuse (the reason goes to the
 * platform log, where the function's author can find it; the caller learns nothing of the
 * function's internals, as behind API Gateway). The headers a function sets may repeat
 * (set-cookie), so they travel beside the result instead of in its one-value header map.
 */
const proxied = new WeakMap<InvocationResult, [string, string][]>();

export function proxiedHeaders(result: InvocationResult): [string, string][] {
  return proxied.get(result) ?? [];
}

export function proxyResponse(
  format: 'apigateway-v1' | 'apigateway-v2',
  result: InvocationResult,
  functionName: string,
  log: (level: 'info' | 'warn' | 'error', msg: string) => void,
): InvocationResult {
  const fail = (kind: string): InvocationResult => {
    const ise = internalServerError();
    // 500 + x-hivelab-error: handler is what the gateway turns into 502 and counts as a handler error.
    return { ...result, status: kind === 'handler' ? 500 : 502, headers: { 'content-type': 'application/json', 'x-hivelab-error': kind }, body: ise.body };
  };
  if (result.status !== 200) return fail(result.headers['x-hivelab-error'] === 'handler' ? 'handler' : 'proxy-response');
  const mapped = mapProxyResult(format, result.headers['content-type'], result.body);
  if ('problem' in mapped) {
    log('warn', `function ${functionName}: malformed ${format} proxy response: ${mapped.problem} → 502`);
    return fail('proxy-response');
  }
  const out: InvocationResult = { ...result, status: mapped.status, headers: {}, body: mapped.body };
  proxied.set(out, mapped.headers);
  return out;
}
