/**
 * Go's time.ParseDuration for the strings experiment and annotation files carry ("1s", "500ms",
 * "1m30s", "1h", "0"), in seconds, so STeLLAR's DesiredServiceTimes and Knative's duration
 * annotations mean what they mean to Go. A signed value is refused: no file uses one, and a
 * negative time is a typo.
 */
export class GoDurationError extends Error {}

const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, μs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** Seconds of a Go duration string; a bare number is taken as seconds when `bareSeconds` (Knative), else only "0" is (as Go). */
export function parseGoDurationSeconds(text: string, bareSeconds = true): number {
  const t = text.trim();
  if (t === '0') return 0;
  if (/^\d+(\.\d+)?$/.test(t)) {
    if (bareSeconds) return Number(t);
    throw new GoDurationError(`"${text}" has no unit: write e.g. "${t}ms" or "${t}s"`);
  }
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
    at = re.lastIndex;
  }
  if (at === 0 || at !== t.length) throw new GoDurationError(`"${text}" is not a duration like "60s", "1m30s" or "500ms"`);
  return total;
}
