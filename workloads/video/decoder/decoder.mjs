import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

// Frames go to the recognizers at half the 1080p resolution, as rgb24: 1.5 MB each, under the inline limit.
const WIDTH = 960;
const HEIGHT = 540;

/** Decodes every `every`-th frame of the mp4 into rgb24 buffers with ffmpeg. */
async function decode(video, every, invocationId) {
  const path = join(tmpdir(), `fragment-${invocationId || process.pid}.mp4`);
  await writeFile(path, video);
  try {
    const args = ['-hide_banner', '-loglevel', 'error', '-threads', '1', '-i', path,
      '-vf', `select=not(mod(n\\,${every})),scale=${WIDTH}:${HEIGHT}`, '-vsync', '0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'];
    const p = spawn('/usr/bin/ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    p.stdout.on('data', (c) => out.push(c));
    p.stderr.on('data', (c) => (err += c));
    const code = await new Promise((resolve, reject) => {
      p.on('error', reject);
      p.on('close', resolve);
    });
    if (code !== 0) throw new Error(`ffmpeg exited with ${code}: ${err.slice(0, 500)}`);
    const all = Buffer.concat(out);
    const size = WIDTH * HEIGHT * 3;
    const frames = [];
    for (let off = 0; off + size <= all.length; off += size) frames.push(all.subarray(off, off + size));
    return frames;
  } finally {
    await rm(path, { force: true });
  }
}

/** event: {video: ref, transfer, every} → {labels, frameBytes, timings} */
export async function handler(event, context) {
  const t0 = performance.now();
  const video = await context.get(event.video);
  const t1 = performance.now();
  const frames = await decode(video, event.every, context.invocationId);
  const t2 = performance.now();
  // every frame to its own recognizer, all at once (thesis: one instance per frame, no queuing)
  const results = await Promise.all(
    frames.map(async (frame, i) => {
      const s = performance.now();
      const ref = await context.put(frame, { transfer: event.transfer, retrievals: 1 });
      const putMs = performance.now() - s;
      const r = await context.invoke('va-recognizer', { frame: ref, width: WIDTH, height: HEIGHT });
      return { frame: i * event.every, label: r.label, putMs, getMs: r.timings.getMs, recognizeMs: r.timings.computeMs };
    }),
  );
  const t3 = performance.now();
  const max = (xs) => Math.max(0, ...xs);
  return {
    labels: results.map((r) => ({ frame: r.frame, label: r.label })),
    frameBytes: frames[0]?.length ?? 0,
    timings: {
      getMs: t1 - t0,
      decodeMs: t2 - t1,
      recognizeStageMs: t3 - t2,
      framePutMaxMs: max(results.map((r) => r.putMs)),
      frameGetMaxMs: max(results.map((r) => r.getMs)),
      slowestFrameTransferMs: max(results.map((r) => r.putMs + r.getMs)),
      recognizeMaxMs: max(results.map((r) => r.recognizeMs)),
    },
  };
}
