import { it } from 'vitest';
import { startTestPlatform, FIXTURES } from './platform/harness.js';
import { join } from 'node:path';

it('smoke', async () => {
  const mode = (process.env.HL_MODE ?? 'snapshot') as any;
  const fn = process.env.FN ?? 'snap-node';
  const tp = await startTestPlatform({ coldStart: mode, workers: 1 } as any);
  try {
    console.log((await tp.deploy(join(FIXTURES, fn))).status);
    for (let i = 0; i < 4; i++) {
      const t0 = Date.now();
      const r = await tp.invoke(fn, { i });
      const c = tp.platform.control.controller(fn)!;
      const inst = c.instances.find((x) => x.state !== 'dead');
      console.log(i, r.status, Date.now() - t0, r.body.toString().slice(0, 300), inst?.mode, JSON.stringify(inst?.timings));
      const ws = await tp.platform.control.workerStats();
      console.log(JSON.stringify(ws.map(w=>w.instances)));
      for (const x of c.instances) if (x.state !== 'dead') await c.recycle(x, true);
      while (c.instances.some((x) => x.state !== 'dead')) await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await tp.stop(); if (process.env.KEEP) console.log("STATE", tp.stateDir);
  }
}, 300000);
