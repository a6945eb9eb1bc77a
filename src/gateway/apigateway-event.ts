import type { IncomingHttpHeaders } from 'node:http';
import type { HttpEventFormat } from '../manifest/schema.js';
import { LAMBDA_ACCOUNT_ID } from '../sandbox/lambda-env.js';

/**
 * HTTP requests as Amazon API Gateway hands them to a Lambda function (proxy integration: REST API
 * payload 1.0, HTTP API payload 2.0), and the function's `{statusCode, headers, body,
 * isBase64Encoded}` answer mapped back onto the HTTP response, so Lambda functions written for API
 * Gateway (and STeLLAR's, which read `event.queryStringParameters`) run unchanged.
 *
 * Which format: the function's manifest `event` field, overridden per request by the header
 * `x-hivelab-event: raw | apigateway-v1 | apigateway-v2`. Pure functions: no I/O.
 *
 * What the function never sees: the platform's own credential (`authorization`) and Hivelab's
 * internal `x-hivelab-*` request headers. What a function may not set on the response: hop-by-hop
 * and framing headers (the gateway frames the body itself) and `x-hivelab-*` (those are the
 * platform's statements about the invocation: cold, instance, error).
 */

export const EVENT_HEADER = 'x-hivelab-event';

export interface HttpRequestParts {
  method: string;
  /** The path after /invoke/NAME ('/' when none), still percent-encoded as received. */
  path: string;
  /** The raw query string without '?'. */
  rawQuery: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  requestId: string;
  sourceIp: string;
  now: number;
}

export class EventFormatError extends Error {}

/** The format for this request: the header wins over the manifest; unknown header values are refused. */
export function eventFormatFor(manifestFormat: HttpEventFormat | undefined, header: string | string[] | undefined): HttpEventFormat {
  if (header === undefined) return manifestFormat ?? 'raw';
  const v = Array.isArray(header) ? header[0] : header;
  if (v === 'raw' || v === 'apigateway-v1' || v === 'apigateway-v2') return v;
  throw new EventFormatError(`header ${EVENT_HEADER}: "${v}" is not one of raw, apigateway-v1, apigateway-v2`);
}

const HIDDEN_REQUEST_HEADERS = new Set(['authorization', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-authorization']);

function visibleHeaders(h: IncomingHttpHeaders): [string, string[]][] {
  const out: [string, string[]][] = [];
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || HIDDEN_REQUEST_HEADERS.has(k) || k.startsWith('x-hivelab-')) continue;
    out.push([k, Array.isArray(v) ? v : [v]]);
  }
  return out;
}

/** Text bodies travel as strings, anything else base64 (API Gateway's binary handling for HTTP APIs). */
function isTextual(contentType: string | undefined): boolean {
  if (!contentType) return true;
  const mime = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return mime.startsWith('text/') || mime.endsWith('json') || mime.endsWith('+xml') || mime === 'application/xml' || mime === 'application/javascript' || mime === 'application/x-www-form-urlencoded';
}

function bodyFields(req: HttpRequestParts): { body: string | null; isBase64Encoded: boolean } {
  if (req.body.length === 0) return { body: null, isBase64Encoded: false };
  const ct = req.headers['content-type'];
  return isTextual(ct) ? { body: req.body.toString('utf8'), isBase64Encoded: false } : { body: req.body.toString('base64'), isBase64Encoded: true };
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function queryPairs(raw: string): [string, string][] {
  if (!raw) return [];
  return raw.split('&').filter(Boolean).map((p) => {
    const i = p.indexOf('=');
    return i < 0 ? [decode(p), ''] : [decode(p.slice(0, i)), decode(p.slice(i + 1))];
  });
}

function decodedPath(path: string): string {
  try {
    return decodeURI(path);
  } catch {
    return path;
  }
}

/** API Gateway REST API proxy event (payload format 1.0). */
export function restApiEvent(req: HttpRequestParts, functionName: string): Record<string, unknown> {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [k, vs] of visibleHeaders(req.headers)) {
    headers[k] = vs[vs.length - 1]!;
    multiValueHeaders[k] = vs;
  }
  const pairs = queryPairs(req.rawQuery);
  const qs: Record<string, string> = {};
  const mqs: Record<string, string[]> = {};
  for (const [k, v] of pairs) {
    qs[k] = v;
    (mqs[k] ??= []).push(v);
  }
  const path = decodedPath(req.path);
  const proxy = path.replace(/^\/+/, '');
  return {
    resource: '/{proxy+}',
    path,
    httpMethod: req.method,
    headers,
    multiValueHeaders,
    queryStringParameters: pairs.length ? qs : null,
    multiValueQueryStringParameters: pairs.length ? mqs : null,
    pathParameters: proxy ? { proxy } : null,
    stageVariables: null,
    requestContext: {
      accountId: LAMBDA_ACCOUNT_ID,
      apiId: 'hivelab',
      resourceId: functionName,
      resourcePath: '/{proxy+}',
      httpMethod: req.method,
      path: `/${functionName}${path === '/' ? '' : path}`,
      protocol: 'HTTP/1.1',
      stage: '$default',
      requestId: req.requestId,
      requestTime: new Date(req.now).toUTCString(),
      requestTimeEpoch: req.now,
      identity: { sourceIp: req.sourceIp, userAgent: headers['user-agent'] ?? null },
    },
    ...bodyFields(req),
  };
}

/** API Gateway HTTP API event (payload format 2.0): duplicate headers and query values comma-joined, cookies apart. */
export function httpApiEvent(req: HttpRequestParts, functionName: string): Record<string, unknown> {
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [k, vs] of visibleHeaders(req.headers)) {
    if (k === 'cookie') cookies = vs.flatMap((v) => v.split(/;\s*/)).filter(Boolean);
    else headers[k] = vs.join(',');
  }
  const qs: Record<string, string> = {};
  for (const [k, v] of queryPairs(req.rawQuery)) qs[k] = k in qs ? `${qs[k]},${v}` : v;
  const path = decodedPath(req.path);
  const proxy = path.replace(/^\/+/, '');
  const { body, isBase64Encoded } = bodyFields(req);
  const d = new Date(req.now);
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: req.path,
    rawQueryString: req.rawQuery,
    ...(cookies ? { cookies } : {}),
    headers,
    ...(Object.keys(qs).length ? { queryStringParameters: qs } : {}),
    ...(proxy ? { pathParameters: { proxy } } : {}),
    requestContext: {
      accountId: LAMBDA_ACCOUNT_ID,
      apiId: 'hivelab',
      domainName: headers.host ?? 'localhost',
      domainPrefix: functionName,
      http: { method: req.method, path, protocol: 'HTTP/1.1', sourceIp: req.sourceIp, userAgent: headers['user-agent'] ?? '' },
      requestId: req.requestId,
      routeKey: '$default',
      stage: '$default',
      time: d.toUTCString(),
      timeEpoch: req.now,
    },
    ...(body === null ? {} : { body }),
    isBase64Encoded,
  };
}

export function apiGatewayEvent(format: 'apigateway-v1' | 'apigateway-v2', req: HttpRequestParts, functionName: string): Buffer {
  return Buffer.from(JSON.stringify(format === 'apigateway-v1' ? restApiEvent(req, functionName) : httpApiEvent(req, functionName)));
}

export interface HttpResponseParts {
  status: number;
  headers: [string, string][];
  body: Buffer;
}

/** API Gateway's answer when the integration response is malformed or the function failed. */
export function internalServerError(): HttpResponseParts {
  return { status: 502, headers: [['content-type', 'application/json']], body: Buffer.from('{"message":"Internal server error"}') };
}

const FORBIDDEN_RESPONSE_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'trailer']);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Visible ASCII, space and tab, and obs-text: no CR, LF or NUL (no response splitting).
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function headerValue(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/**
 * The function's result → the HTTP response, as API Gateway maps it. `result` is the instance's
 * answer (content type + bytes). Returns `{problem}` for a shape API Gateway would refuse with
 * 502 (the caller logs the problem for the function's author and answers 502).
 */
export function mapProxyResult(format: 'apigateway-v1' | 'apigateway-v2', contentType: string | undefined, payload: Buffer): HttpResponseParts | { problem: string } {
  const mime = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  let value: unknown;
  if (mime === 'application/json') {
    try {
      value = JSON.parse(payload.toString('utf8'));
    } catch {
      return { problem: 'the function answered invalid JSON' };
    }
  } else if (mime.startsWith('text/')) {
    value = payload.toString('utf8');
  } else {
    value = payload;
  }
  const isResponseObject = value !== null && typeof value === 'object' && !Buffer.isBuffer(value) && !Array.isArray(value) && 'statusCode' in value;
  if (!isResponseObject) {
    if (format === 'apigateway-v1') return { problem: 'a REST API (v1) proxy integration needs {statusCode, headers?, body?}; the function returned something else' };
    // HTTP API 2.0: any valid JSON without statusCode is the body of a 200 application/json.
    if (Buffer.isBuffer(value)) return { problem: 'the function returned bytes, not a JSON response' };
    const body = typeof value === 'string' ? value : JSON.stringify(value);
    return { status: 200, headers: [['content-type', 'application/json']], body: Buffer.from(body) };
  }
  const r = value as Record<string, unknown>;
  const status = typeof r.statusCode === 'string' ? Number(r.statusCode) : r.statusCode;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) return { problem: `statusCode ${JSON.stringify(r.statusCode)} is not an HTTP status` };
  const out = new Map<string, string[]>();
  const add = (k: string, v: unknown, replace: boolean): string | undefined => {
    const name = k.toLowerCase();
    const val = headerValue(v);
    if (val === undefined) return `header "${k}" has a ${typeof v} value`;
    if (!TOKEN.test(k)) return `"${k}" is not a valid header name`;
    if (!FIELD_VALUE.test(val)) return `header "${k}" has a control character in its value`;
    if (FORBIDDEN_RESPONSE_HEADERS.has(name) || name.startsWith('x-hivelab-')) return undefined; // dropped, not an error
    if (replace || !out.has(name)) out.set(name, [val]);
    else out.get(name)!.push(val);
    return undefined;
  };
  if (r.headers !== undefined && r.headers !== null) {
    if (typeof r.headers !== 'object') return { problem: 'headers must be an object' };
    for (const [k, v] of Object.entries(r.headers)) {
      const p = add(k, v, true);
      if (p) return { problem: p };
    }
  }
  if (format === 'apigateway-v1' && r.multiValueHeaders !== undefined && r.multiValueHeaders !== null) {
    if (typeof r.multiValueHeaders !== 'object') return { problem: 'multiValueHeaders must be an object' };
    // multiValueHeaders win over headers on a shared name (API Gateway merges them that way).
    for (const [k, vs] of Object.entries(r.multiValueHeaders)) {
      if (!Array.isArray(vs)) return { problem: `multiValueHeaders "${k}" must be an array` };
      out.delete(k.toLowerCase());
      for (const v of vs) {
        const p = add(k, v, false);
        if (p) return { problem: p };
      }
    }
  }
  if (format === 'apigateway-v2' && Array.isArray(r.cookies)) {
    for (const c of r.cookies) {
      const p = add('set-cookie', c, false);
      if (p) return { problem: p };
    }
  }
  let body: Buffer;
  if (r.body === undefined || r.body === null) body = Buffer.alloc(0);
  else if (typeof r.body !== 'string') return { problem: `body must be a string (got ${typeof r.body}); JSON.stringify it` };
  else body = r.isBase64Encoded === true ? Buffer.from(r.body, 'base64') : Buffer.from(r.body, 'utf8');
  const headers: [string, string][] = [];
  for (const [k, vs] of out) for (const v of vs) headers.push([k, v]);
  return { status, headers, body };
}
