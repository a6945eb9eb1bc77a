import { jpegSize } from '../jpeg.js';
import { Problems, asObject, checkInputEcho, num, type Json } from './util.js';

/** Video frame size of the generated clips (functions/video-processing/inputs.py). */
export const VIDEO_WIDTH = 320;
export const VIDEO_HEIGHT = 240;

/**
 * image-rotate: input of the requested size (landscape, 3:4), output a real JPEG with width and height
 * swapped for 90/270 degrees, turned counter-clockwise: the red marker that the generators paint in
 * the top-left corner must land in the corner the rotation sends it to.
 */
export async function validateImageRotate(output: unknown, event: Json): Promise<string[]> {
  const p = new Problems();
  const out = asObject(output, p);
  if (!out) return p.list;
  const w = Math.floor(num(event, 'size', 512));
  const h = Math.max(1, Math.round((w * 3) / 4));
  const angle = num(event, 'angle', 90);
  p.check(out.width === w && out.height === h, `input was ${String(out.width)}x${String(out.height)}, expected ${w}x${h}`);
  const [rw, rh] = angle === 180 ? [w, h] : [h, w];
  p.check(out.rotatedWidth === rw && out.rotatedHeight === rh, `rotated to ${String(out.rotatedWidth)}x${String(out.rotatedHeight)}, expected ${rw}x${rh}`);
  if (typeof out.image === 'string') {
    const jpeg = Buffer.from(out.image, 'base64');
    const size = jpegSize(jpeg);
    p.check(size?.width === rw && size?.height === rh, `returned JPEG is ${size ? `${size.width}x${size.height}` : 'not a JPEG'}, expected ${rw}x${rh}`);
    p.check(out.bytesOut === jpeg.length, 'bytesOut does not match the returned image');
    if (size) {
      const { default: sharp } = await import('sharp');
      const { data, info } = await sharp(jpeg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      // Centre of the marker (original (w/16, h/16)) after a counter-clockwise turn.
      const mx = w / 16, my = h / 16;
      const [x, y] = angle === 90 ? [my, w - mx] : angle === 180 ? [w - mx, h - my] : [h - my, mx];
      const at = (Math.floor(y) * info.width + Math.floor(x)) * info.channels;
      const [r, g, b] = [data[at]!, data[at + 1]!, data[at + 2]!];
      p.check(r > 170 && g < 100 && b < 100, `marker not found where a ${angle}° counter-clockwise turn puts it (pixel ${r},${g},${b})`);
    }
  }
  checkInputEcho(out, event, p);
  return p.list;
}

/** video-processing: the requested number of frames, one gray channel, no colour left after decoding. */
export function validateVideo(output: unknown, event: Json): string[] {
  const p = new Problems();
  const out = asObject(output, p);
  if (!out) return p.list;
  const frames = Math.floor(num(event, 'frames', 25));
  p.check(out.frames === frames, `output has ${String(out.frames)} frames, expected ${frames}`);
  p.check(out.decodedFrames === frames, `decoded ${String(out.decodedFrames)} frames, expected ${frames}`);
  p.check(out.width === VIDEO_WIDTH && out.height === VIDEO_HEIGHT, `frame size ${String(out.width)}x${String(out.height)}`);
  p.check(typeof out.pixFmt === 'string' && out.pixFmt.startsWith('gray'), `pixel format ${String(out.pixFmt)} is not gray`);
  p.check(out.channels === 1, `channels ${String(out.channels)}, expected 1`);
  p.check(out.maxChannelDelta === 0 || out.maxChannelDelta === 1, `decoded RGB differs between channels by ${String(out.maxChannelDelta)}`);
  p.check(typeof out.lumaMean === 'number' && out.lumaMean > 1 && out.lumaMean < 254, `mean luma ${String(out.lumaMean)}: blank video`);
  p.check(typeof out.bytesOut === 'number' && out.bytesOut > 0, 'empty output video');
  if (typeof out.video === 'string') p.check(Buffer.from(out.video, 'base64').subarray(0, 4).equals(Buffer.from([0x1a, 0x45, 0xdf, 0xa3])), 'returned video is not Matroska');
  checkInputEcho(out, event, p);
  return p.list;
}
