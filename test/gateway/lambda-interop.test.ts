import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { eventFormatFor, httpApiEvent, mapProxyResult, restApiEvent, type HttpRequestParts } from '../../src/gateway/apigateway-event.js';
import { parseAuthorization, sha256Hex, signingKey, stringToSign, verifySigV4, type SignedRequest } from '../../src/gateway/sigv4.js';
import { parseFunctionName } from '../../src/gateway/lambda-invoke-api.js';
import { settingsFromFlags } from '../../src/cli/commands/deploy.js';
import { parseManifest } from '../../src/manifest/validate.js';

const req = (over: Partial<HttpRequestParts> = {}): HttpRequestParts => ({
  method: 'GET',
  path: '/a%20b',
  rawQuery: 'x=1&x=2&y=%2F',
  headers: { host: 'h', 'user-agent': 'ua', authorization: 'Bearer SECRET', 'x-hivelab-deadline': '1', cookie: 'c=1; d=2', accept: ['a', 'b'] as unknown as string },
  body: Buffer.alloc(0),
  requestId: 'rid',
  sourceIp: '127.0.0.1',
  now: 1_700_000_000_000,
  ...over,
});

describe('API Gateway proxy events', () => {
  it('REST v1: multi-value headers and query, decoded path, null body, no platform credential', () => {
    const e = restApiEvent(req(), 'fn') as any;
    expect(e).toMatchObject({ httpMethod: 'GET', path: '/a b', queryStringParameters: { x: '2', y: '/' }, multiValueQueryStringParameters: { x: ['1', '2'], y: ['/'] }, body: null, isBase64Encoded: false, pathParameters: { proxy: 'a b' } });
    expect(e.multiValueHeaders.accept).toEqual(['a', 'b']);
    expect(e.headers.authorization).toBeUndefined();
    expect(e.headers['x-hivelab-deadline']).toBeUndefined();
  });

  it('HTTP API v2: comma-joined values, cookies apart, binary bodies in base64', () => {
    const e = httpApiEvent(req({ method: 'POST', body: Buffer.from([0, 255]), headers: { 'content-type': 'application/octet-stream', cookie: 'c=1; d=2' } }), 'fn') as any;
    expect(e).toMatchObject({ version: '2.0', rawPath: '/a%20b', rawQueryString: 'x=1&x=2&y=%2F', queryStringParameters: { x: '1,2', y: '/' }, cookies: ['c=1', 'd=2'], body: 'AP8=', isBase64Encoded: true });
    expect(e.headers.cookie).toBeUndefined();
  });

  it('format: the request header wins over the manifest; an unknown one is refused', () => {
    expect(eventFormatFor(undefined, undefined)).toBe('raw');
    expect(eventFormatFor('apigateway-v1', 'apigateway-v2')).toBe('apigateway-v2');
    expect(() => eventFormatFor('raw', 'soap')).toThrow(/not one of/);
  });

  it('responses: v1 needs statusCode, v2 takes any JSON; multiValueHeaders win; framing and x-hivelab-* headers dropped; CR/LF refused', () => {
    const j = (v: unknown) => Buffer.from(JSON.stringify(v));
    expect(mapProxyResult('apigateway-v1', 'application/json', j({ hello: 1 }))).toMatchObject({ problem: expect.stringMatching(/statusCode/) });
    expect(mapProxyResult('apigateway-v2', 'application/json', j({ hello: 1 }))).toEqual({ status: 200, headers: [['content-type', 'application/json']], body: j({ hello: 1 }) });
    expect(mapProxyResult('apigateway-v2', 'text/plain; charset=utf-8', Buffer.from('Hello'))).toMatchObject({ status: 200, body: Buffer.from('Hello') });
    const r = mapProxyResult('apigateway-v1', 'application/json', j({ statusCode: 404, headers: { A: '1', 'Content-Length': '999', 'X-Hivelab-Cold': '0' }, multiValueHeaders: { a: ['2', '3'] }, body: 'aGk=', isBase64Encoded: true }));
    expect(r).toEqual({ status: 404, headers: [['a', '2'], ['a', '3']], body: Buffer.from('hi') });
    expect(mapProxyResult('apigateway-v1', 'application/json', j({ statusCode: 200, headers: { x: 'a\nb' } }))).toMatchObject({ problem: expect.stringMatching(/control character/) });
    expect(mapProxyResult('apigateway-v1', 'application/json', j({ statusCode: 200, body: { not: 'a string' } }))).toMatchObject({ problem: expect.stringMatching(/body must be a string/) });
    expect(mapProxyResult('apigateway-v1', 'application/json', j({ statusCode: 99 }))).toMatchObject({ problem: expect.stringMatching(/not an HTTP status/) });
  });
});

describe('SigV4 verification', () => {
  const secret = 'invoke-token';
  const amzDate = '20260102T030405Z';
  const at = Date.UTC(2026, 0, 2, 3, 4, 5);
  function signed(body: string, over: Partial<SignedRequest> = {}): { r: SignedRequest; auth: string } {
    const headers = { host: '127.0.0.1:1', 'x-amz-date': amzDate, 'x-amz-content-sha256': sha256Hex(body) };
    const r: SignedRequest = { method: 'POST', rawPath: '/2015-03-31/functions/f/invocations', rawQuery: '', headers, body: Buffer.from(body), ...over };
    const parts = { accessKeyId: 'AK', date: '20260102', region: 'us-east-1', service: 'lambda', signedHeaders: ['host', 'x-amz-content-sha256', 'x-amz-date'], signature: '0'.repeat(64) };
    const sig = createHmac('sha256', signingKey(secret, parts.date, parts.region, parts.service)).update(stringToSign(r, parts)).digest('hex');
    return { r, auth: `AWS4-HMAC-SHA256 Credential=AK/20260102/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${sig}` };
  }

  it('accepts the right secret, and tells which', () => {
    const { r, auth } = signed('{"a":1}');
    expect(verifySigV4(r, parseAuthorization(auth)!, ['other', secret], at)).toBe(1);
    expect(verifySigV4(r, parseAuthorization(auth)!, ['other'], at)).toBe(-1);
  });

  it('refuses a changed body, a replay 16 minutes later, and an unsigned host', () => {
    const { r, auth } = signed('{"a":1}');
    const parts = parseAuthorization(auth)!;
    expect(() => verifySigV4({ ...r, body: Buffer.from('{"a":2}') }, parts, [secret], at)).toThrow(/does not match the body/);
    const tampered = { ...r, body: Buffer.from('{"a":2}'), headers: { ...r.headers, 'x-amz-content-sha256': sha256Hex('{"a":2}') } };
    expect(verifySigV4(tampered, parts, [secret], at)).toBe(-1);
    expect(() => verifySigV4(r, parts, [secret], at + 16 * 60_000)).toThrow(/15 minutes/);
    expect(() => verifySigV4(r, { ...parts, signedHeaders: ['x-amz-date'] }, [secret], at)).toThrow(/host/);
    expect(parseAuthorization('AWS4-HMAC-SHA256 Credential=x')).toBeUndefined();
  });

  it('function names: plain, qualified, ARN', () => {
    expect(parseFunctionName('f')).toEqual({ name: 'f', qualifier: undefined });
    expect(parseFunctionName('f:$LATEST')).toEqual({ name: 'f', qualifier: '$LATEST' });
    expect(parseFunctionName('arn:aws:lambda:us-east-1:123456789012:function:f:3')).toEqual({ name: 'f', qualifier: '3' });
  });
});

describe('hivelab deploy DIR with Lambda-style flags', () => {
  it('turns flags into manifest fields, names the function after a folder without function.json, and refuses bad values', () => {
    const s = settingsFromFlags({ runtime: 'nodejs20.x', handler: 'index.handler', memory: '128', timeout: '3', env: ['A=1', 'B=x=y'], event: 'apigateway-v2' }, '/tmp/My_Lambda');
    expect(s).toEqual({ runtime: 'nodejs20.x', handler: 'index.handler', memoryMB: 128, timeoutMs: 3000, env: { A: '1', B: 'x=y' }, event: 'apigateway-v2', name: 'my-lambda' });
    expect(parseManifest(s)).toMatchObject({ runtime: 'node', name: 'my-lambda' });
    expect(parseManifest({ ...s, runtime: 'python3.12', handler: 'lambda_function.lambda_handler' }).runtime).toBe('python');
    expect(() => parseManifest({ ...s, runtime: 'java21' })).toThrow(/runtime/);
    expect(settingsFromFlags({}, '/tmp/x')).toBeUndefined();
    expect(() => settingsFromFlags({ memory: 'lots' }, '/tmp/x')).toThrow(/--memory must be a positive number/);
    expect(() => settingsFromFlags({ env: ['NOEQUALS'] }, '/tmp/x')).toThrow(/--env takes NAME=VALUE/);
    expect(() => settingsFromFlags({ event: 'soap' }, '/tmp/x')).toThrow(/--event must be one of/);
  });
});
