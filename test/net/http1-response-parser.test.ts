import { describe, expect, it } from 'vitest';
import { ResponseParser, ResponseParseError } from '../../src/net/http1-response-parser.js';

interface Parsed {
  status: number;
  headers: string[];
  body: string;
}

/** Feeds `wire` in pieces of `step` bytes and collects every complete response. */
function parse(wire: string, step = wire.length, close = false): { responses: Parsed[]; parser: ResponseParser } {
  const responses: Parsed[] = [];
  let cur: Parsed | undefined;
  const parser = new ResponseParser();
  parser.sink = {
    onHead: (status, headers) => (cur = { status, headers, body: '' }),
    onBody: (c) => (cur!.body += c.toString('latin1')),
    onEnd: () => responses.push(cur!),
  };
  const bytes = Buffer.from(wire, 'latin1');
  for (let i = 0; i < bytes.length; i += step) parser.execute(bytes.subarray(i, i + step));
  if (close) parser.finish();
  return { responses, parser };
}

const LENGTH = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Hivelab-Cold: 1\r\nContent-Length: 11\r\n\r\nhello world';
const CHUNKED = 'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n';

describe('HTTP/1.1 response parser', () => {
  it('reads a content-length body with lower-cased header names, whole or byte by byte', () => {
    for (const step of [LENGTH.length, 1, 7]) {
      const { responses, parser } = parse(LENGTH, step);
      expect(responses).toEqual([{ status: 200, headers: ['content-type', 'text/plain', 'x-hivelab-cold', '1', 'content-length', '11'], body: 'hello world' }]);
      expect(parser.keepAlive).toBe(true);
      expect(parser.idle).toBe(true);
    }
  });

  it('decodes chunked bodies with extensions and trailers, in any split', () => {
    for (const step of [CHUNKED.length, 1, 3, 10]) {
      const { responses } = parse(CHUNKED, step);
      expect(responses.map((r) => [r.status, r.body])).toEqual([[201, 'hello world']]);
    }
  });

  it('parses consecutive responses on one connection', () => {
    const { responses } = parse(LENGTH + CHUNKED + 'HTTP/1.1 204 No Content\r\n\r\n' + LENGTH, 5);
    expect(responses.map((r) => [r.status, r.body])).toEqual([
      [200, 'hello world'],
      [201, 'hello world'],
      [204, ''],
      [200, 'hello world'],
    ]);
  });

  it('skips interim 1xx responses and handles empty bodies', () => {
    const { responses } = parse('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    expect(responses).toEqual([{ status: 200, headers: ['content-length', '0'], body: '' }]);
  });

  it('reads a body delimited by the close, and the connection is not reused', () => {
    const { responses, parser } = parse('HTTP/1.1 200 OK\r\n\r\nuntil the end', 4, true);
    expect(responses.map((r) => r.body)).toEqual(['until the end']);
    expect(parser.keepAlive).toBe(false);
  });

  it('honours connection: close and HTTP/1.0 keep-alive rules', () => {
    expect(parse('HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 0\r\n\r\n').parser.keepAlive).toBe(false);
    expect(parse('HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n').parser.keepAlive).toBe(false);
    expect(parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\ncontent-length: 0\r\n\r\n').parser.keepAlive).toBe(true);
  });

  it('rejects malformed responses with a message naming the problem', () => {
    expect(() => parse('SMTP 220 ready\r\n\r\n')).toThrow(/bad status line/);
    expect(() => parse('HTTP/1.1 200 OK\r\nno colon here\r\n\r\n')).toThrow(/bad header line/);
    expect(() => parse('HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n')).toThrow(/content-length/);
    expect(() => parse('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n')).toThrow(/chunk size/);
    expect(() => parse('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabc\r\n')).toThrow(/longer than its size/);
    expect(() => parse('HTTP/1.1 200 OK\r\n' + 'x: y\r\n'.repeat(20_000))).toThrow(ResponseParseError);
    expect(() => parse('HTTP/1.1 101 Switching Protocols\r\n\r\n')).toThrow(/upgrade/);
  });

  it('a connection closed mid-response is an error; closed between responses is not', () => {
    expect(() => parse('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc', 100, true)).toThrow(/middle of a response/);
    expect(() => parse('HTTP/1.1 200 OK\r\ncontent', 100, true)).toThrow(/middle of a response/);
    expect(parse(LENGTH, 100, true).responses).toHaveLength(1);
  });
});
