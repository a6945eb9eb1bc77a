/**
 * `grpc-timeout` (PROTOCOL-HTTP2.md): at most 8 digits and a unit, H M S m u n. Returns
 * milliseconds (sub-millisecond values round up to 1 so a tiny deadline is not "no deadline"), or
 * undefined for an absent header; a malformed value is an error the caller reports.
 */
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) throw new Error(`malformed grpc-timeout ${JSON.stringify(value)} (expected 1-8 digits and one of H M S m u n)`);
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms === 0 ? 0 : Math.max(1, Math.ceil(ms));
}

/** The header for `ms` milliseconds still left, for the next hop. */
export function formatGrpcTimeout(ms: number): string {
  const whole = Math.max(0, Math.floor(ms));
  return whole < 1e8 ? `${whole}m` : `${Math.ceil(whole / 1000)}S`;
}
