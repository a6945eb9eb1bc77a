import { connect, constants, type ClientHttp2Session } from 'node:http2';
import * as loader from '@grpc/proto-loader';

/**
 * The client side of one unary gRPC call, shared by the benchmark kit (open-loop calls, reported
 * like HTTP responses) and the function suite (a call whose reply is decoded and validated): the
 * length-prefixed framing, a method's (de)serialisers from its .proto, and the call on an HTTP/2
 * session with its status, metadata and reply bytes.
 */

/** A message as gRPC frames it (PROTOCOL-HTTP2.md, "Length-Prefixed-Message"), uncompressed. */
export function grpcFrame(message: Buffer): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/** The messages of a length-prefixed stream; throws on a compressed message or a cut-off stream. */
export function grpcMessages(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    if (body.length - at < 5) throw new Error(`a gRPC message is cut off: ${body.length - at} byte(s) of its 5-byte prefix`);
    if (body[at] !== 0) throw new Error('the reply is compressed (flag 1), which this client does not ask for nor read');
    const len = body.readUInt32BE(at + 1);
    if (body.length - at - 5 < len) throw new Error(`a gRPC message is cut off: ${body.length - at - 5} of its ${len} bytes`);
    out.push(body.subarray(at + 5, at + 5 + len));
    at += 5 + len;
  }
  return out;
}

/** `grpc-message` is percent-encoded (PROTOCOL-HTTP2.md); a malformed escape is left as it is. */
export function decodeGrpcMessage(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** A unary method of a .proto file, named `<package>.<Service>/<Method>` as grpcurl names it. */
export interface UnaryMethod {
  /** The call's `:path`: `/<package>.<Service>/<Method>`. */
  path: string;
  /** The request object (proto field names) as a framed message. */
  encode(request: Record<string, unknown>): Buffer;
  /** A reply message (unframed) as an object: proto field names, every field (defaults too), int64 as strings. */
  decode(message: Buffer): Record<string, unknown>;
}

interface MethodDef {
  requestSerialize(v: unknown): Buffer;
  responseDeserialize(b: Buffer): unknown;
  requestStream: boolean;
  responseStream: boolean;
}

const LOAD_OPTIONS: loader.Options = { keepCase: true, longs: String, enums: String, defaults: true };

/** Reads `method` from `protoFile` (each call reads the file: load it once per experiment or check). */
export function loadUnaryMethod(protoFile: string, method: string): UnaryMethod {
  const slash = method.indexOf('/');
  const service = method.slice(0, slash);
  const name = method.slice(slash + 1);
  const def = slash > 0 ? (loader.loadSync(protoFile, LOAD_OPTIONS)[service] as Record<string, MethodDef> | undefined) : undefined;
  const m = def?.[name];
  if (!m?.requestSerialize) throw new Error(`${protoFile} has no method ${method}`);
  if (m.requestStream || m.responseStream) throw new Error(`${protoFile}: ${method} is a streaming method; only unary calls are made here`);
  return {
    path: `/${service}/${name}`,
    encode: (request) => grpcFrame(m.requestSerialize(request)),
    decode: (message) => m.responseDeserialize(message) as Record<string, unknown>,
  };
}

/** How a unary call ended (when the server answered at all). */
export interface UnaryOutcome {
  /** `grpc-status`; undefined when the server ended the stream without one. */
  status?: number;
  /** `grpc-message`, decoded. */
  message: string;
  /** Response headers then trailers, without pseudo-headers, as `[name, value, …]`. */
  rawHeaders: string[];
  /** The same as an object (a trailer wins over a header of its name). */
  metadata: Record<string, string>;
  /** The DATA bytes as they came (length-prefixed messages). */
  data: Buffer[];
}

export interface UnaryRequest {
  /** `/<package>.<Service>/<Method>`. */
  path: string;
  /** Extra metadata (authorization, x-hivelab-function, …). */
  headers?: Record<string, string>;
  /** The framed request message. */
  body: Buffer;
  /** The call is cancelled (RST_STREAM CANCEL) and fails after this long. */
  timeoutMs: number;
  /** Called once the request is handed to the session (the kit's send time). */
  onSent?(): void;
}

/**
 * Sends one unary call on `session`; `done` is called once: with an error when the stream broke or
 * timed out before the server said how the call ended, else with the outcome (any grpc-status).
 * Callback-shaped so the kit's open-loop client adds no promise per request.
 */
export function startUnaryCall(session: ClientHttp2Session, call: UnaryRequest, done: (err: Error | undefined, outcome?: UnaryOutcome) => void): void {
  const stream = session.request({
    [constants.HTTP2_HEADER_METHOD]: 'POST',
    [constants.HTTP2_HEADER_PATH]: call.path,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...call.headers,
  });
  const outcome: UnaryOutcome = { message: '', rawHeaders: [], metadata: {}, data: [] };
  let finished = false;
  const timer = setTimeout(() => {
    stream.close(constants.NGHTTP2_CANCEL);
    finish(new Error(`no answer within ${call.timeoutMs} ms`));
  }, call.timeoutMs);
  const finish = (err?: Error) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    if (err) done(err);
    else done(undefined, outcome);
  };
  const note = (h: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(h)) {
      if (k.startsWith(':') || v === undefined) continue;
      const value = Array.isArray(v) ? v.join(', ') : String(v);
      outcome.rawHeaders.push(k, value);
      outcome.metadata[k] = value;
    }
    if (h['grpc-status'] !== undefined) outcome.status = Number(h['grpc-status']);
    if (h['grpc-message'] !== undefined) outcome.message = decodeGrpcMessage(String(h['grpc-message']));
  };
  stream.once('response', (h) => note(h));
  stream.once('trailers', (t) => note(t));
  stream.on('data', (c: Buffer) => outcome.data.push(c));
  stream.once('close', () => {
    if (outcome.status === undefined && stream.rstCode) finish(new Error(`stream reset (HTTP/2 error ${stream.rstCode})`));
    else finish();
  });
  stream.on('error', () => undefined); // the close above reports it
  stream.end(call.body);
  call.onSent?.();
}

/** One HTTP/2 session per origin (`host:port`), opened on first use and again after it closed. */
export class H2Sessions {
  private readonly sessions = new Map<string, ClientHttp2Session>();

  get(origin: string): ClientHttp2Session {
    let s = this.sessions.get(origin);
    if (!s || s.closed || s.destroyed) {
      const made = connect(`http://${origin}`);
      made.on('error', () => undefined); // each call's stream reports the failure
      made.once('close', () => this.sessions.get(origin) === made && this.sessions.delete(origin));
      this.sessions.set(origin, made);
      s = made;
    }
    return s;
  }

  close(): void {
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }
}
