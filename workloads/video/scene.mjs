/**
 * The synthetic 2-second, 30 fps, 1080p video fragment of the video-analytics workload (thesis §6.5.5
 * streams such a fragment from the streamer's memory). Each frame shows at most one saturated shape
 * (red disc, green square, blue diamond) moving over a dim gradient; which one is a function of the
 * frame number, so the right answer for every frame is known without any labelled data.
 */
export const WIDTH = 1920;
export const HEIGHT = 1080;
export const FPS = 30;
export const FRAMES = 60;
export const LABELS = ['red', 'green', 'blue', 'none'];

/** Ground truth: the object in frame `n` (changes every 7 frames, so sampled frames see all classes). */
export function labelOf(n) {
  return LABELS[Math.floor(n / 7) % LABELS.length];
}

const COLOURS = { red: [230, 30, 30], green: [30, 210, 40], blue: [40, 60, 235] };

/** Frame `n` as rgb24 bytes. */
export function renderFrame(n) {
  const buf = Buffer.alloc(WIDTH * HEIGHT * 3);
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      const i = (y * WIDTH + x) * 3;
      // sensor-like noise, so the fragment has a realistic size (a few MB) rather than compressing to nothing
      const noise = (Math.imul(x, 73856093) ^ Math.imul(y, 19349663) ^ Math.imul(n, 83492791)) >>> 27;
      const g = 40 + (((x + 4 * n) >> 4) % 40) + (y >> 5) + noise;
      buf[i] = g;
      buf[i + 1] = g;
      buf[i + 2] = g + 10;
    }
  }
  const label = labelOf(n);
  if (label === 'none') return buf;
  const [r, g, b] = COLOURS[label];
  const cx = 300 + ((n * 23) % (WIDTH - 600));
  const cy = 300 + ((n * 11) % (HEIGHT - 600));
  const R = 170;
  for (let y = cy - R; y <= cy + R; y++) {
    for (let x = cx - R; x <= cx + R; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const inside = label === 'red' ? dx * dx + dy * dy <= R * R : label === 'green' ? true : Math.abs(dx) + Math.abs(dy) <= R;
      if (!inside) continue;
      const i = (y * WIDTH + x) * 3;
      buf[i] = r;
      buf[i + 1] = g;
      buf[i + 2] = b;
    }
  }
  return buf;
}
