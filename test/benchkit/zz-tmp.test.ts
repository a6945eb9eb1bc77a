import { it } from 'vitest';
import { runOpenLoop, type OutgoingRequest } from '../../src/benchkit/client.js';
import { startDelayServer } from './delay-server.js';
it('lag', async () => {
  const srv = await startDelayServer();
  for (const iat of [10, 2, 1, 0.5]) {
  const reqs: OutgoingRequest[] = [];
  for (let b = 0; b < 200; b++) reqs.push({ id: b, burstId: b, replica: 0, scheduledMs: b * iat, url: `${srv.url}/delay/0`, body: Buffer.from('{}') });
  const res = await runOpenLoop(reqs, { timeoutMs: 10000, coldThresholdMs: 1e9, keepBodies: false, connections: null, reuseConnections: true });
  const lags = res.records.map(r => r.sentMs - r.scheduledMs);
  console.log(iat, lags.slice(0, 8).map(x => x.toFixed(2)).join(' '), 'max', Math.max(...lags).toFixed(2), 'sorted p99', lags.sort((a,b)=>a-b)[197].toFixed(2));
  }
  await srv.close();
});
