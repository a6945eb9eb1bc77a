import { afterAll, beforeAll, expect, it } from 'vitest';
import { Harness, pattern } from './harness.js';

const h = new Harness();
beforeAll(() => h.start());
afterAll(() => h.stop());

it('smoke', async () => {
  const p = await h.instance(0, 'producer');
  const c = await h.instance(1, 'consumer');
  for (const transfer of ['xdt', 'inline', 'redis', 'storage']) {
    const data = pattern(1000);
    const ref = await p.sdk.put(data, { transfer });
    const got = await c.sdk.get(ref);
    expect(Buffer.compare(got as Buffer, data)).toBe(0);
  }
});
