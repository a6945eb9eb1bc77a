import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// The fragment "resides in memory of the video streamer function" (thesis §6.5.5): read once per instance.
const fragment = readFileSync(join(import.meta.dirname, 'fragment.mp4'));

/**
 * event: {transfer, every=5} → {labels: [{frame, label}], timings}. timings.transferMs is the
 * critical path's transfer time: the video's put and get, plus the slowest frame's put and get.
 */
export async function handler(event, context) {
  const transfer = event.transfer ?? 'xdt';
  const t0 = performance.now();
  const video = await context.put(fragment, { transfer, retrievals: 1 });
  const t1 = performance.now();
  const decoded = await context.invoke('va-decoder', { video, transfer, every: event.every ?? 5 });
  const t2 = performance.now();
  const d = decoded.timings;
  return {
    transfer,
    videoBytes: fragment.length,
    frameBytes: decoded.frameBytes,
    labels: decoded.labels,
    timings: {
      e2eMs: t2 - t0,
      transferMs: t1 - t0 + d.getMs + d.slowestFrameTransferMs,
      videoPutMs: t1 - t0,
      videoGetMs: d.getMs,
      decodeMs: d.decodeMs,
      framePutMaxMs: d.framePutMaxMs,
      frameGetMaxMs: d.frameGetMaxMs,
      recognizeMaxMs: d.recognizeMaxMs,
    },
  };
}
