/** event: {refs: this reducer's partition from every mapper} → {groups: [[key, cents]], timings}. */
export async function handler(event, context) {
  const t0 = performance.now();
  const blobs = await Promise.all(event.refs.map((ref) => context.get(ref)));
  const t1 = performance.now();
  const sums = new Map();
  for (const blob of blobs) {
    const text = blob.toString('utf8');
    if (text.length === 0) continue;
    for (const line of text.split('\n')) {
      const tab = line.indexOf('\t');
      const key = line.slice(0, tab);
      sums.set(key, (sums.get(key) ?? 0) + Number(line.slice(tab + 1)));
    }
  }
  const t2 = performance.now();
  return { groups: [...sums], bytes: blobs.reduce((n, b) => n + b.length, 0), timings: { getMs: t1 - t0, computeMs: t2 - t1 } };
}
