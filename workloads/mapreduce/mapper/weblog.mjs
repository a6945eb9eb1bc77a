/**
 * The uservisits table of the AMPLab Big Data Benchmark, generated instead of downloaded: shard `i`
 * of seed `s` is always the same rows, so a mapper "reads" its input by regenerating it and a test can
 * recompute the query directly. adRevenue is in integer cents so sums are exact in any order.
 */

/** mulberry32: tiny, fast, and identical in every Node version (Math.random is not seedable). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Yields [sourceIP, adRevenueCents] for every row of the shard (the columns the query reads). */
export function* uservisits(seed, shard, rows) {
  const r = rng(seed * 1_000_003 + shard * 7919 + 1);
  for (let i = 0; i < rows; i++) {
    // a skewed first octet, like real traffic, so some groups are much larger than others
    const a = 1 + Math.floor(223 * r() * r());
    const ip = `${a}.${Math.floor(256 * r())}.${Math.floor(256 * r())}.${Math.floor(256 * r())}`;
    yield [ip, Math.floor(100_000 * r())];
  }
}

/** The query's key: SUBSTR(sourceIP, 1, 8). */
export function groupKey(ip) {
  return ip.slice(0, 8);
}

/** Which reducer owns a key (FNV-1a, stable across processes). */
export function partitionOf(key, reducers) {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % reducers;
}
