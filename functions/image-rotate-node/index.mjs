// FunctionBench's image processing in Node: decodes a JPEG, rotates it, re-encodes it (sharp/libvips).
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { POOLED_SIZE, makeJpeg, poolPath } from './inputs.mjs';
import { pickInput, sizeParam } from './inputmode.mjs';

const DATA = fileURLToPath(new URL('./data', import.meta.url));
// One vips thread: an instance gets a slice of a 2-core machine, and the benchmark wants function work, not contention.
sharp.concurrency(1);

export async function handler(event, context) {
  const input = pickInput(event, context);
  const size = Math.floor(sizeParam(event, 'size', POOLED_SIZE, 8192));
  const angle = event?.angle ?? 90;
  if (![90, 180, 270].includes(angle)) throw new Error('angle must be 90, 180 or 270');
  // Pooled images come from disk (like FunctionBench's object-store read); others are built here.
  const generated = !(input.pooled && size === POOLED_SIZE && (event?.seed ?? 1) === 1);
  const data = generated ? await makeJpeg(size, input.seed) : await readFile(poolPath(DATA, input.index));
  const meta = await sharp(data).metadata();
  // sharp rotates clockwise; negate so both runtimes turn the image counter-clockwise like Pillow.
  const { data: out, info } = await sharp(data).rotate(-angle).jpeg({ quality: 85 }).toBuffer({ resolveWithObject: true });
  const result = {
    width: meta.width,
    height: meta.height,
    angle,
    rotatedWidth: info.width,
    rotatedHeight: info.height,
    bytesIn: data.length,
    bytesOut: out.length,
    generated,
    input,
  };
  if (event?.returnImage ?? true) result.image = out.toString('base64');
  return result;
}
