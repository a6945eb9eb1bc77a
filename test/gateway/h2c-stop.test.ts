import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { connect as tcpConnect, type AddressInfo, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { acceptH2c } from '../../src/gateway/h2c.js';
import { removeState, startTestPlatform, type TestPlatform } from '../platform/harness.js';

/**
 * Stopping the gateway with h2c clients that say nothing, or keep a stream open: the HTTP/1.1
 * server knows neither the connections still being sniffed nor the HTTP/2 sessions, and
 * `server.close()` waits for every connection; a closing HTTP/2 session only ends its socket and
 * waits for the client's end, which a client that does not read never sends. These clients used to
 * keep `hivelab down` from finishing (it killed the platform after 20 s, orphaning its services).
 * No timing is asserted: each test only needs the stop to end, and the client's connection closed.
 */

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** An empty SETTINGS frame: with the preface, all an HTTP/2 client must send to open its connection. */
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

/** The frame types in a byte stream of HTTP/2 frames (9-byte headers). */
function frameTypes(bytes: Buffer): number[] {
  const types: number[] = [];
  for (let at = 0; at + 9 <= bytes.length; at += 9 + bytes.readUIntBE(at, 3)) types.push(bytes[at + 3]!);
  return types;
}
const GOAWAY = 7;

function h2Client(url: string): { session: ClientHttp2Session; closed: Promise<void>; goaway: () => boolean } {
  const session = connect(url);
  session.on('error', () => undefined);
  let sawGoaway = false;
  session.once('goaway', () => (sawGoaway = true));
  const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
  return { session, closed, goaway: () => sawGoaway };
}

/** Resolves once the server has answered the preface with its SETTINGS: the server holds a session. */
const established = (s: ClientHttp2Session) => new Promise<void>((resolve) => s.once('remoteSettings', () => resolve()));

/** A stream the client never ends (no END_STREAM): the server's side of it stays open. */
function openStream(s: ClientHttp2Session, headers: Record<string, string>): ClientHttp2Stream {
  const stream = s.request({ ':method': 'POST', ...headers }, { endStream: false });
  stream.on('error', () => undefined);
  stream.write('{"partial": ');
  return stream;
}

describe('acceptH2c: server.close() ends its HTTP/2 sessions and sniffed connections', () => {
  let server: Server;
  let url: string;
  const sockets: Socket[] = [];

  async function start(): Promise<void> {
    // requests are never answered: an open stream stays open until the server ends it
    server = createServer(() => undefined);
    acceptH2c(server, () => false, () => undefined, (req, res) => server.emit('request', req, res), 60_000, 300);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));

  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
    server?.closeAllConnections();
  });

  it('a client that sends nothing after its preface: close() alone finishes, the session gets GOAWAY and is closed', async () => {
    await start();
    const c = h2Client(url);
    await established(c.session);
    await close();
    await c.closed;
    expect(c.goaway()).toBe(true);
    expect(c.session.destroyed).toBe(true);
  }, 60_000);

  it('a client that sends its preface and SETTINGS, then neither reads nor answers: close() finishes, the connection is cut after a GOAWAY', async () => {
    await start();
    const socket = tcpConnect((server.address() as AddressInfo).port, '127.0.0.1');
    sockets.push(socket);
    socket.on('error', () => undefined);
    await new Promise((r) => socket.once('connect', r));
    socket.write(Buffer.concat([PREFACE, EMPTY_SETTINGS]));
    // the server's SETTINGS: it holds a session; from now on the client reads nothing (so it never
    // sees the GOAWAY, nor answers it by closing) and sends nothing (not even the SETTINGS ack)
    const got: Buffer[] = [await new Promise<Buffer>((r) => socket.once('data', r))];
    socket.pause();
    await close();
    // what the client would have read: SETTINGS, then a GOAWAY, then the end
    socket.on('data', (d: Buffer) => got.push(d));
    const ended = new Promise((r) => socket.once('close', r));
    socket.resume();
    await ended;
    expect(frameTypes(Buffer.concat(got))).toContain(GOAWAY);
  }, 60_000);

  it('a client whose preface arrives while the server closes: dropped, close() finishes', async () => {
    await start();
    const c = h2Client(url);
    await new Promise((r) => c.session.once('connect', r)); // connected and preface sent; not yet read by the server
    await close();
    await c.closed;
    expect(c.session.destroyed).toBe(true);
  }, 60_000);

  it('a TCP connection that sends nothing at all (still being sniffed): close() drops it', async () => {
    await start();
    const socket = tcpConnect((server.address() as AddressInfo).port, '127.0.0.1');
    sockets.push(socket);
    socket.on('error', () => undefined);
    await new Promise((r) => socket.once('connect', r));
    const ended = new Promise((r) => socket.once('close', r));
    await close();
    await ended;
    expect(socket.destroyed).toBe(true);
  }, 60_000);

  it('a client that keeps a stream open: GOAWAY, then the session is destroyed after the grace; close() finishes', async () => {
    await start();
    const c = h2Client(url);
    const requested = new Promise((r) => server.once('request', r));
    const stream = openStream(c.session, { ':path': '/slow' });
    await requested; // the server holds the open stream
    const streamClosed = new Promise((r) => stream.once('close', r));
    await close();
    await c.closed;
    await streamClosed;
    expect(c.goaway()).toBe(true);
    expect(stream.destroyed).toBe(true);
  }, 60_000);
});

describe('the platform stops with silent and stream-holding h2c clients connected', () => {
  let t: TestPlatform | undefined;
  afterEach(async () => {
    await t?.stop();
    if (t) await removeState(t.stateDir);
    t = undefined;
  }, 120_000);

  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
  });

  it('platform.stop() (`hivelab down`) finishes; every client session is closed', async () => {
    t = await startTestPlatform();
    const url = t.platform.url;
    // a client in a process that is stopped once connected: it neither reads nor answers the GOAWAY
    child = spawn(
      process.execPath,
      [
        '-e',
        `const s = require('node:http2').connect(${JSON.stringify(url)});
         s.on('error', () => {});
         s.once('remoteSettings', () => console.log('ready'));
         s.once('goaway', () => console.log('goaway'));
         s.once('close', () => { console.log('closed'); process.exit(0); });`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const lines: string[] = [];
    const childSaid = (word: string) =>
      new Promise<void>((resolve) => {
        if (lines.includes(word)) return resolve();
        const each = (l: string) => l === word && (rl.off('line', each), resolve());
        rl.on('line', each);
      });
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (l) => lines.push(l));
    await childSaid('ready');
    child.kill('SIGSTOP');
    // one that sent its preface and then nothing, with its session established…
    const silent = h2Client(url);
    await established(silent.session);
    // …one with a stream it never ends, and a gRPC call answered (no such function) but never ended by the client…
    const holding = h2Client(url);
    const stream = openStream(holding.session, { ':path': '/invoke/nobody', authorization: `Bearer ${t.platform.tokens.invoke}`, 'content-type': 'application/json' });
    const call = openStream(holding.session, {
      ':path': '/helloworld.Greeter/SayHello',
      'content-type': 'application/grpc',
      te: 'trailers',
      'x-hivelab-function': 'nobody',
      authorization: `Bearer ${t.platform.tokens.invoke}`,
    });
    const answered = await new Promise<Record<string, unknown>>((r) => call.once('response', r));
    expect(answered['grpc-status']).toBe('12'); // UNIMPLEMENTED: the gateway has seen both streams
    // …and one whose preface is still on its way when the stop begins
    const late = h2Client(url);
    await new Promise((r) => late.session.once('connect', r));

    await t.stop();
    await Promise.all([silent.closed, holding.closed, late.closed]);
    // the stopped client, woken up, finds its connection gone
    child.kill('SIGCONT');
    await childSaid('closed');
    for (const c of [silent, holding, late]) expect(c.session.destroyed).toBe(true);
    // told before being cut: GOAWAY first (the late one may have been refused before it had a session)
    expect(silent.goaway() && holding.goaway()).toBe(true);
    expect(stream.destroyed && call.destroyed).toBe(true);
    await removeState(t.stateDir);
    t = undefined;
  }, 120_000);
});
