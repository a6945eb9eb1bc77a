/**
 * Request bodies (issue 18): a chunked body that never ends was never timed out, unfinished bodies
 * grew the gateway's memory without bound, and an early 413 was answered with a reset that Node's
 * fetch and Python's urllib reported as a connection error instead of the 413.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { startTestPlatform, removeState, FIXTURES, type TestPlatform } from '../platform/harness.js';

const run = promisify(execFile);
const MB = 1024 * 1024;

/** Sends `head` and then `body` pieces (never the end); resolves with the status the gateway answers, or 0 when it closes without one. */
function unfinished(url: string, head: string, pieces: Buffer[], everyMs = 0): Promise<{ status: number; closed: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect(Number(port), hostname);
    let got = '';
    let status = 0;
    let timer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => s.destroy(), 30_000);
    s.on('data', (d) => {
      got += d.toString('latin1');
      status ||= Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0);
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(guard);
      clearInterval(timer);
      resolve({ status, closed: true });
    });
    s.write(head);
    if (everyMs === 0) for (const p of pieces) s.write(p);
    else {
      let i = 0;
      timer = setInterval(() => (i < pieces.length ? s.write(pieces[i++]!) : undefined), everyMs);
    }
  });
}

describe('request bodies have deadlines, a memory budget, and refusals clients can read', () => {
  let t: TestPlatform;
  let head: (extra?: string) => string;

  beforeAll(async () => {
    t = await startTestPlatform({ workers: 1, bodyDeadlines: { idleMs: 1000, totalMs: 4000 }, bodyBudgetBytes: 8 * MB });
    expect((await t.deploy(join(FIXTURES, 'echo-node'))).status).toBe(201);
    head = (extra = 'transfer-encoding: chunked\r\n') =>
      `POST /invoke/echo-node HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${t.platform.tokens.invoke}\r\ncontent-type: application/octet-stream\r\n${extra}\r\n`;
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    if (t) await removeState(t.stateDir);
  });

  it('a chunked body that stops arriving is cut off with 408 after the idle deadline', async () => {
    const r = await unfinished(t.platform.url, head(), [Buffer.from('5\r\nhello\r\n')]);
    expect(r).toEqual({ status: 408, closed: true });
  }, 30_000);

  it('a body that trickles in forever is cut off with 408 at the total deadline', async () => {
    const pieces = Array.from({ length: 100 }, () => Buffer.from('1\r\nx\r\n'));
    const r = await unfinished(t.platform.url, head(), pieces, 300);
    expect(r).toEqual({ status: 408, closed: true });
  }, 30_000);

  it('unfinished bodies cannot hold more than the budget; what they held comes back', async () => {
    const three = Buffer.alloc(3 * MB, 'z');
    const h5 = head(`content-length: ${5 * MB}\r\n`);
    const results = await Promise.all([0, 1, 2].map(() => unfinished(t.platform.url, h5, [three])));
    // 3 × 3 MB > 8 MB: at least one was refused for the budget, the others ran into the deadline
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toContain(503);
    expect(statuses.every((s) => s === 503 || s === 408)).toBe(true);
    expect((await t.invoke('echo-node', { after: true })).status).toBe(200);
  }, 30_000);

  it('Node fetch reads the 413 of a 7 MB body, and the 431 of oversized headers', async () => {
    const big = Buffer.alloc(7 * MB, 'a');
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${t.platform.url}/invoke/echo-node`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.platform.tokens.invoke}`, 'content-type': 'application/octet-stream' },
        body: big,
      });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe('PayloadTooLarge');
    }
    const res = await fetch(`${t.platform.url}/invoke/echo-node`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.platform.tokens.invoke}`, 'x-padding': 'p'.repeat(40 * 1024) },
      body: '{}',
    });
    expect(res.status).toBe(431);
    await res.arrayBuffer();
  }, 60_000);

  it('Python urllib and curl read the 413 of a 7 MB body', async () => {
    const url = `${t.platform.url}/invoke/echo-node`;
    const py = `
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], data=b"a" * (7 * 1024 * 1024), method="POST",
    headers={"Authorization": "Bearer " + sys.argv[2], "Content-Type": "application/octet-stream"})
codes = []
for _ in range(5):
    try:
        codes.append(urllib.request.urlopen(req, timeout=20).status)
    except urllib.error.HTTPError as e:
        codes.append(e.code)
    except Exception as e:
        codes.append(type(e).__name__)
print(" ".join(map(str, codes)))
`;
    const { stdout } = await run('/usr/bin/python3', ['-c', py, url, t.platform.tokens.invoke], { timeout: 60_000 });
    expect(stdout.trim()).toBe('413 413 413 413 413');
    const file = join(t.stateDir, 'seven-mb');
    await writeFile(file, Buffer.alloc(7 * MB, 'c'));
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await run(
        'curl',
        ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', '-H', `authorization: Bearer ${t.platform.tokens.invoke}`, '-H', 'content-type: application/octet-stream', '--data-binary', `@${file}`, url],
        { timeout: 30_000 },
      ).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? 'error' }));
      codes.push(r.stdout);
    }
    expect(codes).toEqual(['413', '413', '413', '413', '413']);
  }, 90_000);
});
