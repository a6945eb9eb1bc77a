import { describe, it, expect, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { removeState } from './harness.js';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../../bin/hivelab.js');
const EXAMPLES = resolve(import.meta.dirname, '../../examples');

async function hivelab(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the hivelab command', () => {
  let state = '';
  afterAll(async () => {
    if (state) {
      await hivelab(['down', '--state', state]);
      await removeState(state);
    }
  });

  it('up --detach, deploy, ls, invoke --json, logs, rm, down', async () => {
    state = await mkdtemp(join(tmpdir(), 'hivelab-cli-'));
    const up = await hivelab(['up', '--detach', '--port', '0', '--state', state]);
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/Hivelab is up at http:\/\/127\.0\.0\.1:\d+/);

    const again = await hivelab(['up', '--detach', '--port', '0', '--state', state]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already runs/);

    const dep = await hivelab(['deploy', join(EXAMPLES, 'hello-node'), '--state', state]);
    expect(dep.code).toBe(0);
    expect(dep.stdout).toMatch(/deployed hello-node/);

    const ls = await hivelab(['ls', '--json', '--state', state]);
    expect(JSON.parse(ls.stdout).map((f: { name: string }) => f.name)).toEqual(['hello-node']);

    const inv = await hivelab(['invoke', 'hello-node', '--data', '{"name":"cli"}', '--json', '--state', state]);
    expect(inv.code).toBe(0);
    const out = JSON.parse(inv.stdout);
    expect(out).toMatchObject({ status: 200, body: { message: 'Hello, cli!' } });
    expect(typeof out.cold).toBe('boolean');
    expect(out.instanceId).toMatch(/^hello-node-/);
    expect(out.invocationId).toMatch(/^[0-9a-f]{16}$/);
    expect(out.latencyMs).toBeGreaterThan(0);

    const missing = await hivelab(['invoke', 'nope', '--json', '--state', state]);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout).status).toBe(404);

    const bad = await hivelab(['invoke', 'hello-node', '--data', '{oops', '--state', state]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not valid JSON/);

    const logs = await hivelab(['logs', 'hello-node', '--state', state]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain(out.instanceId);

    expect((await hivelab(['rm', 'hello-node', '--state', state])).code).toBe(0);
    const down = await hivelab(['down', '--state', state]);
    expect(down.code).toBe(0);
    expect((await hivelab(['ls', '--state', state])).stderr).toMatch(/no platform is running/);
  });

  it('prints help for every command and refuses unknown ones', async () => {
    const help = await hivelab(['--help']);
    expect(help.stdout).toMatch(/invoke\s+invoke a function/);
    for (const c of ['up', 'down', 'deploy', 'rm', 'ls', 'invoke', 'logs']) {
      const h = await hivelab([c, '--help']);
      expect(h.code).toBe(0);
      expect(h.stdout).toContain(`hivelab ${c}`);
    }
    const unknown = await hivelab(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command/);
  });
});
