/**
 * Malformed anything is a 4xx for its sender and nothing more (issue 18): a function that sends
 * malformed requests to its own sidecar socket, and clients that send malformed paths to the
 * gateway, must neither kill the worker nor disturb a bystander function on it.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import net from 'node:net';
import { startTestPlatform, removeState, FIXTURES, type TestPlatform } from '../platform/harness.js';

/** One raw request over TCP; resolves with the status code (0 if the connection closed without one). */
function rawStatus(url: string, request: string): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect(Number(port), hostname);
    let got = '';
    const done = (code: number) => {
      s.destroy();
      resolve(code);
    };
    s.setTimeout(10_000, () => done(0));
    s.on('data', (d) => {
      got += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      if (m) done(Number(m[1]));
    });
    s.on('error', () => done(0));
    s.on('close', () => done(0));
    s.write(request);
  });
}

describe('malformed requests end as 4xx for their sender only', () => {
  let t: TestPlatform;

  beforeAll(async () => {
    // one worker: the hostile function and the bystander share it
    t = await startTestPlatform({ workers: 1 });
    for (const f of ['echo-node', 'hostile-sidecar-node']) expect((await t.deploy(join(FIXTURES, f))).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    if (t) await removeState(t.stateDir);
  });

  it('a function hammering its own sidecar with malformed calls gets 4xx answers; the worker and a bystander live on', async () => {
    const bystander = await t.invoke('echo-node', { n: 1 });
    expect(bystander.status).toBe(200);
    const workerPid = t.platform.control.workers[0]!.pid;

    for (let round = 0; round < 3; round++) {
      const r = await t.invoke('hostile-sidecar-node', { rounds: 3 });
      expect(r.status).toBe(200);
      const { results } = r.json() as { results: Record<string, string> };
      for (const [attack, line] of Object.entries(results)) {
        // a 4xx status line, or (for bytes that are not HTTP at all) the parser's 400
        expect(line, attack).toMatch(/^HTTP\/1\.1 4\d\d /);
      }
      // the bystander is served, by the same warm instance, while and after the attacks run
      const again = await t.invoke('echo-node', { n: round });
      expect(again.status).toBe(200);
      expect(again.json().instanceId).toBe(bystander.json().instanceId);
    }
    expect(t.platform.control.workers[0]!.pid).toBe(workerPid);
    expect(t.platform.control.workers[0]!.alive).toBe(true);
  }, 120_000);

  it('the gateway and admin API answer a malformed path with 400, not 500', async () => {
    const inv = `Bearer ${t.platform.tokens.invoke}`;
    const adm = `Bearer ${t.platform.tokens.admin}`;
    const url = t.platform.url;
    expect(await rawStatus(url, `POST /invoke/% HTTP/1.1\r\nhost: x\r\nauthorization: ${inv}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`)).toBe(400);
    expect(await rawStatus(url, `POST /invoke/%E0%A4%A HTTP/1.1\r\nhost: x\r\nauthorization: ${inv}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`)).toBe(400);
    expect(await rawStatus(url, `GET /v1/functions/%zz HTTP/1.1\r\nhost: x\r\nauthorization: ${adm}\r\nconnection: close\r\n\r\n`)).toBe(400);
    expect(await rawStatus(url, `DELETE /v1/functions/% HTTP/1.1\r\nhost: x\r\nauthorization: ${adm}\r\nconnection: close\r\n\r\n`)).toBe(400);
    expect(await rawStatus(url, `GET // HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`)).toBe(400);
    expect(await rawStatus(url, `GET /v1/traces/% HTTP/1.1\r\nhost: x\r\nauthorization: ${adm}\r\nconnection: close\r\n\r\n`)).toBe(400);
    // a header the parser refuses: 400 from Node's parser, and the gateway still serves
    expect(await rawStatus(url, `POST /invoke/echo-node HTTP/1.1\r\nhost: x\r\nbad header\r\n\r\n`)).toBe(400);
    expect((await t.invoke('echo-node', {})).status).toBe(200);
  }, 60_000);

  it('a malformed body or content type for a deploy is a 400 naming the problem', async () => {
    const r = await t.api('POST', '/v1/functions', undefined);
    expect(r.status).toBe(400);
    const adm = `Bearer ${t.platform.tokens.admin}`;
    expect(
      await rawStatus(t.platform.url, `POST /v1/functions HTTP/1.1\r\nhost: x\r\nauthorization: ${adm}\r\ncontent-length: 5\r\nconnection: close\r\n\r\n[1,2]`),
    ).toBe(400);
    expect(
      await rawStatus(t.platform.url, `POST /v1/functions HTTP/1.1\r\nhost: x\r\nauthorization: ${adm}\r\ncontent-length: 4\r\nconnection: close\r\n\r\nnull`),
    ).toBe(400);
  }, 30_000);
});
