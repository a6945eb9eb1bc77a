import { describe, expect, it, vi } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { synthesizeTrace } from '../../src/azure-trace/synthesize.js';
import command from '../../src/cli/commands/simulate.js';
import { UsageError } from '../../src/cli/command.js';
import { scratchDir } from '../helpers/scratch.js';

describe('hivelab simulate', () => {
  it('--json prints the documented fields; several policies give an array', async () => {
    const dir = await scratchDir('hivelab-simcmd-');
    await synthesizeTrace({ functions: 30, days: 1, seed: 2, outDir: dir });
    const logs: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((s: string) => void logs.push(s));
    try {
      expect(await command.run(['--trace', dir, '--policy', 'fixed-keepalive', '--json'])).toBe(0);
      const one = JSON.parse(logs.pop()!);
      expect(Object.keys(one).sort()).toEqual(['coldStartPct', 'functions', 'idleMemoryGBs', 'invocations', 'policy', 'simulatedSeconds', 'wallSeconds']);
      expect(one).toMatchObject({ functions: 30, simulatedSeconds: 86400, policy: 'fixed-keepalive' });
      expect(await command.run(['--trace', dir, '--policy', 'kpa,fixed-keepalive,hybrid-histogram', '--json'])).toBe(0);
      const many = JSON.parse(logs.pop()!);
      expect(many.map((r: { policy: string }) => r.policy)).toEqual(['kpa', 'fixed-keepalive', 'hybrid-histogram']);
      expect(new Set(many.map((r: { invocations: number }) => r.invocations)).size).toBe(1);
      const timeline = join(dir, 'timeline.csv');
      expect(await command.run(['--trace', dir, '--policy', 'kpa,hybrid-histogram', '--timeline', timeline])).toBe(0);
      expect(logs.join('\n')).toMatch(/policy\s+invocations\s+cold %/);
      const rows = (await readFile(timeline, 'utf8')).trim().split('\n');
      expect(rows[0]).toBe('minute,kpa,hybrid-histogram');
      expect(rows).toHaveLength(1441);
      expect(rows[1]).toMatch(/^0,\d+,\d+$/);
    } finally {
      spy.mockRestore();
    }
    await expect(command.run(['--policy', 'kpa'])).rejects.toThrow(UsageError);
    await expect(command.run(['--trace', dir, '--policy', 'lru'])).rejects.toThrow(/unknown policy "lru"/);
  });
});
