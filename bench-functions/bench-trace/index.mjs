// Synthetic function for `hivelab replay` (In-Vitro's trace function). Event: { durationMs, allocMB }.
// It touches allocMB of memory (one write per 4 KiB page, so the pages are really committed) and
// busy-spins until durationMs has passed since the handler started — a spin, because Azure's
// durations are execution times that occupied an instance. Returns the actual duration measured
// here, so the kit can compare requested and actual execution time.
import { performance } from 'node:perf_hooks';

export async function handler(event) {
  const start = performance.now();
  const ev = event && typeof event === 'object' && !Buffer.isBuffer(event) ? event : {};
  const allocMB = Math.max(0, Math.min(Number(ev.allocMB) || 0, 8192));
  let buf;
  if (allocMB > 0) {
    buf = Buffer.allocUnsafe(Math.round(allocMB * 1024 * 1024));
    for (let i = 0; i < buf.length; i += 4096) buf[i] = 1;
  }
  const end = start + Math.max(0, Number(ev.durationMs) || 0);
  let x = 0;
  while (performance.now() < end) x++;
  return { actualDurationMs: performance.now() - start, allocMB: buf ? buf.length / 1048576 : 0 };
}
