/**
 * How a sidecar reaches the gateway for `context.invoke`: over kept-alive connections (a new TCP
 * connection per call was a quarter of a small XDT 1-1's latency).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Harness, pattern, type Instance } from '../transfer/harness.js';

const h = new Harness();
let producer: Instance;

beforeAll(async () => {
  await h.start({ services: false, workers: 1 });
  producer = await h.instance(0, 'producer');
});
afterAll(() => h.stop());

it('invokes reuse one kept-alive connection to the gateway instead of opening one each', async () => {
  await h.deploy('echo-size', 0, async (event) => (Buffer.isBuffer(event) ? event.length : -1));
  let connections = 0;
  const count = () => connections++;
  h.gateway!.on('connection', count);
  try {
    for (let i = 0; i < 5; i++) expect(await producer.sdk.invoke('echo-size', pattern(1000 + i, i), { transfer: 'inline' })).toBe(1000 + i);
  } finally {
    h.gateway!.off('connection', count);
  }
  expect(connections).toBeLessThanOrEqual(1);
});
