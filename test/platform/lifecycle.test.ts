import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { startTestPlatform, removeState, FIXTURES, EXAMPLES, eventually } from './harness.js';

describe('platform lifecycle', () => {
  it('a restarted platform keeps its deployments and tokens', async () => {
    const first = await startTestPlatform();
    const state = first.stateDir;
    try {
      expect((await first.deploy(join(EXAMPLES, 'hello-python'))).status).toBe(201);
      expect((await first.deploy(join(FIXTURES, 'echo-node'))).status).toBe(201);
      expect((await first.invoke('hello-python', { name: 'before' })).status).toBe(200);
      const tokens = first.platform.tokens;
      await first.stop();

      const second = await startTestPlatform({}, state);
      try {
        expect(second.platform.tokens).toEqual(tokens);
        const names = (await second.api('GET', '/v1/functions')).json().functions.map((f: { name: string }) => f.name);
        expect(names).toEqual(['echo-node', 'hello-python']);
        const r = await second.invoke('hello-python', { name: 'after' });
        expect(r.status).toBe(200);
        expect(r.json().message).toBe('Hello, after!');
        const e = await second.invoke('echo-node', { after: true });
        expect(e.headers['x-hivelab-cold']).toBe('1');
        expect(e.json().calls).toBe(1);
      } finally {
        await second.stop();
      }
    } finally {
      await removeState(state);
    }
  });

  it('a corrupt deployments file does not start a platform that silently lost them', async () => {
    const t = await startTestPlatform();
    await t.deploy(join(FIXTURES, 'echo-node'));
    await t.stop();
    await writeFile(join(t.stateDir, 'deployments.json'), '{"functions": {');
    await expect(startTestPlatform({}, t.stateDir)).rejects.toThrow(/deployments\.json is unreadable/);
    await removeState(t.stateDir);
  });

  it('a port already in use fails the start with EADDRINUSE and leaves no data service running', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    const state = await mkdtemp(join(tmpdir(), 'hivelab-test-'));
    try {
      await expect(startTestPlatform({ port }, state)).rejects.toThrow(/EADDRINUSE/);
      // Redis (--dir) and the S3 server (directory) name the state folder on their command lines.
      const survivors = async () => {
        const found: string[] = [];
        for (const pid of await readdir('/proc')) {
          if (!/^\d+$/.test(pid)) continue;
          const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
          if (cmd.includes(state)) found.push(cmd.replace(/\0/g, ' ').slice(0, 120));
        }
        return found;
      };
      await eventually(async () => (await survivors()).length === 0, 10_000, `no process of ${state} left: ${(await survivors()).join('; ')}`);
    } finally {
      blocker.close();
      await removeState(state);
    }
  });

  it('state files are written whole (no temporary files left behind)', async () => {
    const t = await startTestPlatform();
    try {
      await t.deploy(join(FIXTURES, 'echo-node'));
      const index = JSON.parse(await readFile(join(t.stateDir, 'deployments.json'), 'utf8'));
      expect(Object.keys(index.functions)).toEqual(['echo-node']);
      const { readdir } = await import('node:fs/promises');
      expect((await readdir(t.stateDir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      await t.stop();
      await removeState(t.stateDir);
    }
  });

  it('idle instances are stopped after the keep-alive (scale to zero), and the next call is cold again', async () => {
    const t = await startTestPlatform({ keepAliveMs: 1000, policy: 'fixed-keepalive' });
    try {
      await t.deploy(join(FIXTURES, 'echo-node'));
      expect((await t.invoke('echo-node', {})).headers['x-hivelab-cold']).toBe('1');
      await eventually(async () => (await t.api('GET', '/v1/functions/echo-node')).json().instances.length === 0, 20_000, 'scale to zero');
      expect((await t.invoke('echo-node', {})).headers['x-hivelab-cold']).toBe('1');
    } finally {
      await t.stop();
      await removeState(t.stateDir);
    }
  });

  it('stopping the platform stops every instance process', async () => {
    const t = await startTestPlatform();
    await t.deploy(join(FIXTURES, 'echo-node'));
    const pid = (await t.invoke('echo-node', {})).json().pid as number;
    const desc = (await t.api('GET', '/v1/functions/echo-node')).json();
    const hostPid = desc.instances[0].pid as number;
    expect(pid).toBeGreaterThan(0);
    await t.stop();
    await eventually(async () => {
      try {
        process.kill(hostPid, 0);
        return false;
      } catch {
        return true;
      }
    }, 10_000, 'the instance process to exit');
    await removeState(t.stateDir);
  });
});
