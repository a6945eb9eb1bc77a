/**
 * The recognizer's model: a colour-and-saturation classifier over the frame's pixels, standing in
 * for the thesis's SqueezeNet (no weights can be downloaded here). A pixel votes for a class when
 * one channel clearly dominates the other two; a class wins with at least 1 % of the pixels.
 */
const CLASSES = ['red', 'green', 'blue'];

export function classify(rgb) {
  const votes = [0, 0, 0];
  // every other pixel on every other row: a quarter of the work, the same answer for objects this size
  const pixels = rgb.length / 3;
  for (let p = 0; p < pixels; p += 2) {
    const i = p * 3;
    const r = rgb[i];
    const g = rgb[i + 1];
    const b = rgb[i + 2];
    if (r > 150 && g < 100 && b < 100) votes[0]++;
    else if (g > 150 && r < 100 && b < 100) votes[1]++;
    else if (b > 150 && r < 110 && g < 110) votes[2]++;
  }
  const best = votes.indexOf(Math.max(...votes));
  return votes[best] >= pixels / 2 / 100 ? CLASSES[best] : 'none';
}

/** event: {frame: ref, width, height} → {label, timings} */
export async function handler(event, context) {
  const t0 = performance.now();
  const frame = await context.get(event.frame);
  const t1 = performance.now();
  if (frame.length !== event.width * event.height * 3) throw new Error(`frame of ${frame.length} B is not ${event.width}x${event.height} rgb24`);
  const label = classify(frame);
  return { label, timings: { getMs: t1 - t0, computeMs: performance.now() - t1 } };
}
