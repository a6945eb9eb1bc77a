// Set-up for cnn-serving (`node inputs.mjs`): trains the CNN briefly on generated shape images and
// saves it under data/. Deterministic: seeded data, seeded initialisers, no shuffling inside fit.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildModel, saveModel, tf } from './model.mjs';
import { SIZE, makeImages } from './shapes.mjs';

const dir = fileURLToPath(new URL('./data', import.meta.url));
const base = Number(process.argv[2] ?? 1);
const N = Number(process.env.CNN_TRAIN_IMAGES ?? 640);
mkdirSync(dir, { recursive: true });
const started = Date.now();
const { images, labels } = makeImages(N, base);
const x = tf.tensor4d(Float32Array.from(images.flatMap((im) => Array.from(im))), [N, SIZE, SIZE, 1]);
const y = tf.tensor1d(labels, 'float32');
const model = buildModel(base);
const hist = await model.fit(x, y, { epochs: 8, batchSize: 16, shuffle: false, validationSplit: 0.15, verbose: 0 });
await saveModel(model, dir);
const acc = hist.history.val_acc ?? hist.history.val_accuracy;
console.log(`cnn-serving: trained on ${N} images, validation accuracy ${Number(acc.at(-1)).toFixed(3)}, ${((Date.now() - started) / 1000).toFixed(1)}s`);
