import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExperiment } from '../../src/benchkit/experiment.js';
import { HivelabProvider, readPlatformAccess } from '../../src/benchkit/providers/hivelab.js';
import { runExperiment } from '../../src/benchkit/runner.js';
import { scratchDir } from '../helpers/scratch.js';

/**
 * A stand-in gateway speaking the HTTP API of docs/CONTRACTS.md (deploy, invoke, delete), so the
 * provider's side of the contract is checked without the whole platform: tokens, the deployed
 * manifests (memoryMB, paddingMB from imageSizeMB, distinct replica names), invoke headers, teardown.
 */
interface Deployed { manifest: Record<string, unknown>; invocations: number }
let server: http.Server;
let url: string;
const deployed = new Map<string, Deployed>();
const deleted: string[] = [];
const deployedFrom: string[] = [];
const seenAuth = new Set<string>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', async () => {
      seenAuth.add(`${req.method} ${req.url?.split('/')[1]} ${req.headers.authorization}`);
      const body = Buffer.concat(chunks).toString();
      if (req.method === 'POST' && req.url === '/v1/functions') {
        const { path } = JSON.parse(body);
        deployedFrom.push(path);
        const manifest = JSON.parse(await readFile(join(path, 'function.json'), 'utf8'));
        deployed.set(manifest.name, { manifest, invocations: 0 });
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ name: manifest.name }));
      } else if (req.method === 'DELETE' && req.url?.startsWith('/v1/functions/')) {
        deleted.push(req.url.slice('/v1/functions/'.length));
        res.writeHead(200).end('{}');
      } else if (req.method === 'POST' && req.url?.startsWith('/invoke/')) {
        const name = req.url.slice('/invoke/'.length);
        const d = deployed.get(name);
        if (!d) return void res.writeHead(404).end('{"error":{"type":"NotFound"}}');
        d.invocations++;
        res.writeHead(200, { 'content-type': 'application/json', 'x-hivelab-cold': d.invocations === 1 ? '1' : '0', 'x-hivelab-instance-id': `${name}-i1` }).end(body);
      } else res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('hivelab provider against the gateway HTTP API', () => {
  it('names missing state files clearly', async () => {
    await expect(readPlatformAccess('/nonexistent-state')).rejects.toThrow(/cannot read the platform file \/nonexistent-state\/platform\.json \(is the platform up/);
  });

  it('deploys replicas × hops with the requested settings, invokes with the invoke token, removes them', async () => {
    const state = await scratchDir('bk-state-');
    await writeFile(join(state, 'platform.json'), JSON.stringify({ pid: 1, url }));
    await writeFile(join(state, 'tokens.json'), JSON.stringify({ admin: 'ADM', invoke: 'INV' }));
    const out = await scratchDir('bk-hl-');
    const provider = new HivelabProvider(await readPlatformAccess(state), { experimentDir: out, outDir: out, runId: 'ab12cd', log: () => {} });
    const exp = parseExperiment({
      provider: 'hivelab',
      maxSendLagP99Ms: 1000,
      subExperiments: [{ title: 'cold chain', bursts: 4, replicas: 2, chainLength: 2, transfer: 'xdt', payloadBytes: 100, memoryMB: 512, imageSizeMB: 10, iatSeconds: 0.01 }],
    });
    const res = await runExperiment(exp, { outDir: out, provider, plots: false, log: () => {} });
    const names = [...deployed.keys()].filter((n) => n.includes('ab12cd')).sort();
    expect(names).toEqual(['bench-spin-ab12cd-0-r0-h0', 'bench-spin-ab12cd-0-r0-h1', 'bench-spin-ab12cd-0-r1-h0', 'bench-spin-ab12cd-0-r1-h1']);
    for (const n of names) expect(deployed.get(n)!.manifest).toMatchObject({ name: n, runtime: 'node', handler: 'index.handler', memoryMB: 512, paddingMB: 10, concurrency: 1 });
    // Bursts alternate between the replicas' first functions; the chain's next hop is named in the event.
    expect(deployed.get('bench-spin-ab12cd-0-r0-h0')!.invocations).toBe(2);
    expect(deployed.get('bench-spin-ab12cd-0-r1-h0')!.invocations).toBe(2);
    const csv = (await readFile(join(res.subs[0]!.dir, 'latencies.csv'), 'utf8')).trim().split('\n').slice(1);
    expect(csv.map((l) => l.split(',')[8])).toEqual(['1', '1', '0', '0']); // first touch of each replica is cold
    expect(seenAuth).toContain('POST v1 Bearer ADM');
    expect(seenAuth).toContain('POST invoke Bearer INV');
    expect(seenAuth).toContain('DELETE v1 Bearer ADM');
    expect(deleted.sort()).toEqual(names);
    expect(res.subs[0]!.summary.coldCount).toBe(2);
  });

  it('sub-experiments deploying at the same time copy into one folder, which teardown removes', async () => {
    const state = await scratchDir('bk-state-');
    await writeFile(join(state, 'platform.json'), JSON.stringify({ pid: 1, url }));
    await writeFile(join(state, 'tokens.json'), JSON.stringify({ admin: 'ADM', invoke: 'INV' }));
    const out = await scratchDir('bk-hl-');
    const provider = new HivelabProvider(await readPlatformAccess(state), { experimentDir: out, outDir: out, runId: 'ef34ab', log: () => {} });
    const exp = parseExperiment({
      provider: 'hivelab',
      sequential: false,
      maxSendLagP99Ms: 1000,
      subExperiments: [
        { title: 'a', bursts: 1, iatSeconds: 0.01 },
        { title: 'b', bursts: 1, iatSeconds: 0.01 },
      ],
    });
    await runExperiment(exp, { outDir: out, provider, plots: false, log: () => {} });
    const folders = [...new Set(deployedFrom.filter((p) => p.includes('ef34ab')).map((p) => dirname(p)))];
    expect(folders).toHaveLength(1);
    expect(existsSync(folders[0]!)).toBe(false);
  });
});
