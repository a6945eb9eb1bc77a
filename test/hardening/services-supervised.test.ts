/**
 * The data services are supervised (issue 18): Redis or the S3 server killed used to stay dead
 * until the whole platform restarted. Now each comes back (with back-off), transfers through it work
 * again, and its state shows in /v1/status (`hivelab status`) and the dashboard's state.
 */
import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { startTestPlatform, removeState, FIXTURES, eventually } from '../platform/harness.js';

interface Svc {
  name: string;
  state: string;
  pid: number | null;
  restarts: number;
}

describe('Redis and the S3 server killed with SIGKILL', () => {
  it('are restarted, reported, and serve transfers again', async () => {
    const t = await startTestPlatform({ workers: 1 });
    try {
      expect((await t.deploy(join(FIXTURES, 'reget-node'))).status).toBe(201);
      const services = async (): Promise<Svc[]> => (await t.api('GET', '/v1/status')).json().services;
      const before = await services();
      expect(before.map((s) => [s.name, s.state, s.restarts])).toEqual([
        ['s3rver', 'running', 0],
        ['redis-server', 'running', 0],
      ]);
      for (const victim of before) process.kill(victim.pid!, 'SIGKILL');
      const after = await eventually(async () => {
        const s = await services();
        return s.every((x) => x.state === 'running' && x.restarts === 1) ? s : undefined;
      }, 60_000, 'both services to be restarted');
      for (const s of after) expect(s.pid).not.toBe(before.find((b) => b.name === s.name)!.pid);

      // the dashboard shows the same
      const dash = (await t.api('GET', '/v1/dashboard/state')).json();
      expect(dash.services.map((s: Svc) => [s.name, s.state, s.restarts])).toEqual([
        ['s3rver', 'running', 1],
        ['redis-server', 'running', 1],
      ]);

      // transfers through both work again (the worker's clients reconnect)
      for (const transfer of ['storage', 'redis']) {
        const r = await eventually(async () => {
          const res = await t.invoke('reget-node', { transfer });
          return res.status === 200 && res.json().tries[0].ok ? res : undefined;
        }, 30_000, `${transfer} to work again`);
        expect(r.json().tries).toEqual([{ ok: true, bytes: 9 }, { ok: false, type: 'XdtRefExhausted' }]);
      }
    } finally {
      await t.stop();
      await removeState(t.stateDir);
    }
  }, 120_000);
});
