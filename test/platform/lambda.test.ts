import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { request } from 'undici';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { eventually, removeState, startTestPlatform, type TestPlatform } from './harness.js';

/**
 * Lambda functions as written (test/fixtures/lambda, unmodified, no function.json) on a real
 * platform: deployed from Lambda-style settings, invoked through API Gateway proxy events and
 * through the Lambda Invoke API with the real @aws-sdk/client-lambda.
 */
const LAMBDA = resolve(import.meta.dirname, '../fixtures/lambda');

interface Fn {
  name: string;
  dir: string;
  runtime: string;
  handler: string;
  event?: string;
}
const probe = (name: string, handler: string, event?: string): Fn => ({ name, dir: 'hivelab-lambda-probe', runtime: 'nodejs20.x', handler: `index.${handler}`, event });
const FUNCTIONS: Fn[] = [
  { name: 'stellar-hellopy', dir: 'stellar-hellopy', runtime: 'python3.9', handler: 'lambda_function.lambda_handler', event: 'apigateway-v1' },
  { name: 'stellar-hellopy-sls', dir: 'stellar-hellopy-serverless', runtime: 'python3.12', handler: 'main.lambda_handler', event: 'apigateway-v2' },
  { name: 'stellar-hellonode', dir: 'stellar-hellonode', runtime: 'nodejs18.x', handler: 'index.handler', event: 'apigateway-v2' },
  { name: 'sls-callback', dir: 'serverless-callback', runtime: 'nodejs20.x', handler: 'handler.endpoint', event: 'apigateway-v1' },
  { name: 'sls-esm', dir: 'serverless-esm', runtime: 'nodejs20.x', handler: 'handler.endpoint', event: 'apigateway-v2' },
  probe('p-context', 'context'),
  probe('p-later', 'callbackLater'),
  probe('p-cb-error', 'callbackError'),
  probe('p-succeed', 'legacySucceed'),
  probe('p-fail', 'legacyFail'),
  probe('p-done', 'legacyDone'),
  probe('p-first', 'firstWins'),
  probe('p-forgets', 'forgets'),
  probe('p-throw-after', 'throwAfterAnswer'),
  probe('p-throw-before', 'throwBeforeAnswer'),
  probe('p-reject-after', 'rejectAfterAnswer'),
  probe('p-proxy', 'proxy', 'apigateway-v2'),
  probe('p-splitter', 'splitter', 'apigateway-v1'),
  { name: 'py-probe', dir: 'hivelab-lambda-probe', runtime: 'python3.11', handler: 'lambda_probe.handler' },
  { name: 'py-fail', dir: 'hivelab-lambda-probe', runtime: 'python3.11', handler: 'lambda_probe.fail' },
];

let t: TestPlatform;

async function http(method: string, path: string, o: { body?: string; headers?: Record<string, string> } = {}) {
  const res = await request(`${t.platform.url}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${t.platform.tokens.invoke}`, ...o.headers },
    body: o.body,
  });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, text: body.toString('utf8'), json: () => JSON.parse(body.toString('utf8')) };
}

function lambdaClient(secret: string): LambdaClient {
  return new LambdaClient({
    endpoint: t.platform.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'hivelab', secretAccessKey: secret },
    maxAttempts: 1,
  });
}
const decode = (p: Uint8Array | undefined): any => JSON.parse(Buffer.from(p ?? []).toString('utf8'));

beforeAll(async () => {
  t = await startTestPlatform();
  for (const f of FUNCTIONS) {
    const manifest: Record<string, unknown> = { name: f.name, runtime: f.runtime, handler: f.handler, memoryMB: 128, timeoutMs: 20_000 };
    if (f.event) manifest.event = f.event;
    const r = await t.api('POST', '/v1/functions', { path: resolve(LAMBDA, f.dir), manifest });
    expect(r.status, `${f.name}: ${r.body.toString()}`).toBe(201);
  }
}, 120_000);
afterAll(async () => {
  await t?.stop();
  if (t) await removeState(t.stateDir);
});

describe('unmodified Lambda functions behind API Gateway events', () => {
  it("STeLLAR's AWS hellopy: GET with STeLLAR's query, REST v1 event, aws_request_id and AWS_REGION", async () => {
    const r = await http('GET', '/invoke/stellar-hellopy?IncrementLimit=1000&PayloadLengthBytes=0&DataTransferChainIDs=[]');
    expect(r.status, r.text).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    const body = r.json();
    expect(body.RequestID).toBe(r.headers['x-hivelab-invocation-id']);
    expect(body['Region ']).toBe('us-east-1');
    expect(body.TimestampChain).toHaveLength(1);
    expect(Number(body.TimestampChain[0])).toBeGreaterThan(1e18); // ns since the epoch
  });

  it("STeLLAR's serverless hellopy (HTTP API v2) and hellonode (returns a JSON string: v2 sends it as the body)", async () => {
    const py = await http('GET', '/invoke/stellar-hellopy-sls?IncrementLimit=10');
    expect(py.status, py.text).toBe(200);
    expect(py.json().RequestID).toBe(py.headers['x-hivelab-invocation-id']);
    const node = await http('GET', '/invoke/stellar-hellonode?incrementLimit=10');
    expect(node.status, node.text).toBe(200);
    expect(node.json()).toMatchObject({ statusCode: 200, body: { TimestampChain: [expect.any(String)] } });
  });

  it('serverless/examples callback handler (CommonJS) and its async ES-module rewrite', async () => {
    for (const name of ['sls-callback', 'sls-esm']) {
      const r = await http('POST', `/invoke/${name}/any/path?x=1`, { body: '{}', headers: { 'content-type': 'application/json' } });
      expect(r.status, `${name}: ${r.text}`).toBe(200);
      expect(r.json().message).toMatch(/^Hello, the current time is /);
    }
  });

  it('v2 response: status, headers, cookies, base64 body; the platform credential and x-hivelab-* never reach or leave the function', async () => {
    const r = await http('PUT', '/invoke/p-proxy/a/b%20c?q=1&q=2', { body: 'hello', headers: { 'content-type': 'text/plain', cookie: 'k=v; k2=v2', 'x-hivelab-event': 'apigateway-v2' } });
    expect(r.status).toBe(201);
    expect(r.headers['x-echo-method']).toBe('PUT');
    expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(r.headers['x-hivelab-cold']).toMatch(/^[01]$/); // the platform's, not the forged one
    const seen = r.json().seen;
    expect(seen).toMatchObject({ version: '2.0', rawPath: '/a/b%20c', rawQueryString: 'q=1&q=2', queryStringParameters: { q: '1,2' }, cookies: ['k=v', 'k2=v2'], body: 'hello', isBase64Encoded: false });
    expect(seen.requestContext.http).toMatchObject({ method: 'PUT', path: '/a/b c' });
    expect(seen.headers.authorization).toBeUndefined();
    expect(Object.keys(seen.headers).filter((h: string) => h.startsWith('x-hivelab-'))).toEqual([]);
  });

  it('a header with CR/LF in a proxy response is refused with 502, not split into two headers', async () => {
    const r = await http('GET', '/invoke/p-splitter');
    expect(r.status).toBe(502);
    expect(r.json()).toEqual({ message: 'Internal server error' });
    expect(r.headers['set-cookie']).toBeUndefined();
    expect(r.headers['x-hivelab-error']).toBe('proxy-response');
  });

  it('raw functions still take POST only; a bad x-hivelab-event is a 400', async () => {
    expect((await http('GET', '/invoke/p-context')).status).toBe(405);
    expect((await http('POST', '/invoke/p-context', { body: '{}', headers: { 'x-hivelab-event': 'soap' } })).status).toBe(400);
  });
});

describe('Lambda handler styles and the context', () => {
  it('context and environment as on Lambda (Node)', async () => {
    const r = await t.invoke('p-context', { a: 1 });
    expect(r.status).toBe(200);
    const c = r.json();
    expect(c).toMatchObject({
      awsRequestId: r.headers['x-hivelab-invocation-id'],
      functionName: 'p-context',
      functionVersion: '$LATEST',
      memoryLimitInMB: '128',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:p-context',
      logGroupName: '/aws/lambda/p-context',
      callbackWaitsForEmptyEventLoop: true,
      event: { a: 1 },
    });
    expect(c.logStreamName).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\]p-context-/);
    expect(c.remaining).toBeGreaterThan(0);
    expect(c.remaining).toBeLessThanOrEqual(20_000);
    expect(c.env).toMatchObject({ AWS_LAMBDA_FUNCTION_NAME: 'p-context', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128', AWS_REGION: 'us-east-1', LAMBDA_TASK_ROOT: '/var/task', _HANDLER: 'index.context', TZ: 'UTC' });
    expect(c.env.AWS_EXECUTION_ENV).toMatch(/^AWS_Lambda_nodejs\d+\.x$/);
  });

  it('callback, context.succeed/fail/done, first call wins, a forgotten callback answers null', async () => {
    expect((await t.invoke('p-later', { x: 2 })).json()).toEqual({ later: { x: 2 } });
    expect((await t.invoke('p-succeed')).json()).toEqual({ legacy: true });
    expect((await t.invoke('p-done')).body.toString()).toBe('done-result');
    expect((await t.invoke('p-first')).body.toString()).toBe('first');
    const forgot = await t.invoke('p-forgets');
    expect(forgot.status).toBe(200);
    expect(forgot.body.toString()).toBe('null');
    const failed = await t.invoke('p-fail');
    expect(failed.status).toBe(502);
    expect(failed.json().error).toMatchObject({ message: 'handled' });
    const cbErr = await t.invoke('p-cb-error');
    expect(cbErr.status).toBe(502);
    expect(cbErr.json().error).toMatchObject({ type: 'TypeError', message: 'bad thing' });
  });

  it('an error thrown after the answer: the answer stands, the instance keeps serving and counts it', async () => {
    const first = await t.invoke('p-throw-after');
    expect(first.status).toBe(200);
    expect(first.body.toString()).toBe('answered');
    const instance = first.headers['x-hivelab-instance-id'];
    const next = await eventually(async () => {
      const r = await t.invoke('p-throw-after');
      return r.headers['x-hivelab-uncaught-errors'] ? r : undefined;
    }, 20_000, 'the uncaught error to be counted');
    expect(next.status).toBe(200);
    expect(next.headers['x-hivelab-instance-id']).toBe(instance);
    const log = await t.api('GET', '/v1/functions/p-throw-after');
    expect(log.json().instances.map((i: { id: string }) => i.id)).toContain(instance);
  });

  it('an error thrown from a timer before answering fails that invocation (no hang); a stray rejection after answering is counted', async () => {
    const r = await t.invoke('p-throw-before');
    expect(r.status).toBe(502);
    expect(r.json().error.message).toBe('thrown from a timer');
    const again = await t.invoke('p-throw-before');
    expect(again.headers['x-hivelab-instance-id']).toBe(r.headers['x-hivelab-instance-id']);
    const ok = await t.invoke('p-reject-after');
    expect(ok.body.toString()).toBe('ok');
    await eventually(async () => (await t.invoke('p-reject-after')).headers['x-hivelab-uncaught-errors'], 20_000, 'the rejection to be counted');
  });
});

describe('the Lambda Invoke API with @aws-sdk/client-lambda', () => {
  it('RequestResponse: payload, executed version, client context (Node and Python)', async () => {
    const client = lambdaClient(t.platform.tokens.invoke);
    const clientContext = Buffer.from(JSON.stringify({ custom: { who: 'sdk' } })).toString('base64');
    const out = await client.send(new InvokeCommand({ FunctionName: 'p-context', Payload: Buffer.from(JSON.stringify({ k: 'v' })), ClientContext: clientContext }));
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(out.ExecutedVersion).toBe('$LATEST');
    const c = decode(out.Payload);
    expect(c.event).toEqual({ k: 'v' });
    expect(c.clientContext).toEqual({ custom: { who: 'sdk' } });
    const py = await client.send(new InvokeCommand({ FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:py-probe', Payload: Buffer.from('{"n":1}'), ClientContext: clientContext }));
    expect(decode(py.Payload)).toMatchObject({
      aws_request_id: expect.stringMatching(/^[0-9a-f]{16}$/),
      function_name: 'py-probe',
      function_version: '$LATEST',
      memory_limit_in_mb: '128',
      invoked_function_arn: 'arn:aws:lambda:us-east-1:000000000000:function:py-probe',
      log_group_name: '/aws/lambda/py-probe',
      identity_pool: null,
      client_custom: { who: 'sdk' },
      task_root: '/var/task',
      region: 'us-east-1',
      event: { n: 1 },
    });
    expect(decode(py.Payload).remaining).toBeGreaterThan(0);
    client.destroy();
  });

  it('a function error is 200 with FunctionError Unhandled and Lambda’s error payload; a string result is a JSON string', async () => {
    const client = lambdaClient(t.platform.tokens.invoke);
    const err = await client.send(new InvokeCommand({ FunctionName: 'p-cb-error', Payload: Buffer.from('{}') }));
    expect(err.StatusCode).toBe(200);
    expect(err.FunctionError).toBe('Unhandled');
    expect(decode(err.Payload)).toMatchObject({ errorType: 'TypeError', errorMessage: 'bad thing', trace: expect.any(Array) });
    const py = await client.send(new InvokeCommand({ FunctionName: 'py-fail' }));
    expect(py.FunctionError).toBe('Unhandled');
    expect(decode(py.Payload)).toMatchObject({ errorType: 'ValueError', errorMessage: 'python says no' });
    const text = await client.send(new InvokeCommand({ FunctionName: 'p-done' }));
    expect(decode(text.Payload)).toBe('done-result');
    client.destroy();
  });

  it('Event → 202 and the invocation runs; DryRun → 204', async () => {
    const client = lambdaClient(t.platform.tokens.invoke);
    const before = (await t.api('GET', '/v1/functions/p-later')).json().instances.reduce((n: number, i: { served: number }) => n + i.served, 0);
    const ev = await client.send(new InvokeCommand({ FunctionName: 'p-later', InvocationType: 'Event', Payload: Buffer.from('{"async":true}') }));
    expect(ev.StatusCode).toBe(202);
    await eventually(async () => {
      const served = (await t.api('GET', '/v1/functions/p-later')).json().instances.reduce((n: number, i: { served: number }) => n + i.served, 0);
      return served > before;
    }, 20_000, 'the Event invocation to run');
    const dry = await client.send(new InvokeCommand({ FunctionName: 'p-later', InvocationType: 'DryRun' }));
    expect(dry.StatusCode).toBe(204);
    client.destroy();
  });

  it('refuses a wrong secret, an unknown function, a published version and a non-JSON payload with Lambda’s exception names', async () => {
    const wrong = lambdaClient('not-the-token');
    await expect(wrong.send(new InvokeCommand({ FunctionName: 'p-context' }))).rejects.toMatchObject({ name: 'InvalidSignatureException' });
    wrong.destroy();
    const client = lambdaClient(t.platform.tokens.invoke);
    await expect(client.send(new InvokeCommand({ FunctionName: 'nope' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(client.send(new InvokeCommand({ FunctionName: 'p-context', Qualifier: '3' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(client.send(new InvokeCommand({ FunctionName: 'p-context', Payload: Buffer.from('{nope') }))).rejects.toMatchObject({ name: 'InvalidRequestContentException' });
    client.destroy();
    // unsigned and unauthenticated
    const bare = await request(`${t.platform.url}/2015-03-31/functions/p-context/invocations`, { method: 'POST', body: '{}' });
    expect(bare.statusCode).toBe(403);
    await bare.body.dump();
  });
});
