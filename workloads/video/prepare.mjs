/**
 * Set-up of the video workload: encodes the synthetic fragment (scene.mjs) with ffmpeg into
 * streamer/fragment.mp4, which the streamer holds in memory. Deterministic; kept out of git.
 * usage: node workloads/video/prepare.mjs   (idempotent: does nothing when the file exists)
 */
import { spawn } from 'node:child_process';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { FPS, FRAMES, HEIGHT, WIDTH, renderFrame } from './scene.mjs';

export const FRAGMENT = join(import.meta.dirname, 'streamer', 'fragment.mp4');

export async function prepareVideo(ffmpeg = '/usr/bin/ffmpeg') {
  if (existsSync(FRAGMENT)) return FRAGMENT;
  const tmp = `${FRAGMENT}.${process.pid}.tmp.mp4`;
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${WIDTH}x${HEIGHT}`, '-r', String(FPS), '-i', '-',
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p', '-threads', '1', '-movflags', '+faststart', tmp];
  const p = spawn(ffmpeg, args, { stdio: ['pipe', 'inherit', 'inherit'] });
  const done = new Promise((resolve, reject) => {
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}`))));
  });
  for (let n = 0; n < FRAMES; n++) {
    if (!p.stdin.write(renderFrame(n))) await new Promise((r) => p.stdin.once('drain', r));
  }
  p.stdin.end();
  await done;
  renameSync(tmp, FRAGMENT);
  return FRAGMENT;
}

if (process.argv[1] === import.meta.filename) {
  prepareVideo().then((f) => console.log(f));
}
