/** The same query computed directly over the same generated rows (what tests compare the workflow with). */
import { createHash } from 'node:crypto';
import { groupKey, uservisits } from './mapper/weblog.mjs';

export function aggregateDirectly({ seed = 1, mappers = 40, rowsPerMapper = 20_000 } = {}) {
  const sums = new Map();
  for (let shard = 0; shard < mappers; shard++) {
    for (const [ip, cents] of uservisits(seed, shard, rowsPerMapper)) {
      const key = groupKey(ip);
      sums.set(key, (sums.get(key) ?? 0) + cents);
    }
  }
  const groups = [...sums].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return {
    groups: groups.length,
    totalCents: groups.reduce((n, g) => n + g[1], 0),
    digest: createHash('sha256').update(JSON.stringify(groups)).digest('hex'),
  };
}
