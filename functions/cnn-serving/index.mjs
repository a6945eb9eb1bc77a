// FunctionBench's cnn_image_classification in miniature: classifies generated shape images with a
// small convolutional network (TensorFlow.js, pure-JS CPU backend) trained at set-up. The model is
// loaded once per instance, so the cold start pays for TensorFlow.js and the weights.
import { fileURLToPath } from 'node:url';
import { pickInput, rng, sizeParam } from './inputmode.mjs';
import { loadModel, tf } from './model.mjs';
import { LABELS, SIZE, drawShape } from './shapes.mjs';

const DATA = fileURLToPath(new URL('./data', import.meta.url));
let model;

export async function handler(event, context) {
  const input = pickInput(event, context);
  const n = Math.floor(sizeParam(event, 'n', 8, 4096));
  model ??= await loadModel(DATA);
  // The image set is a pure function of the variant's seed; labels cycle so every class appears.
  const random = rng(input.seed);
  const truth = Array.from({ length: n }, (_, i) => (i + (input.seed % LABELS.length)) % LABELS.length);
  const pixels = new Float32Array(n * SIZE * SIZE);
  truth.forEach((label, i) => pixels.set(drawShape(label, random), i * SIZE * SIZE));
  const probs = tf.tidy(() => model.predict(tf.tensor4d(pixels, [n, SIZE, SIZE, 1])).arraySync());
  const predictions = probs.map((p, i) => {
    const best = p.indexOf(Math.max(...p));
    return { label: LABELS[best], probability: Math.round(p[best] * 1e4) / 1e4, truth: LABELS[truth[i]] };
  });
  return { predictions, labels: LABELS, imageSize: SIZE, input };
}
