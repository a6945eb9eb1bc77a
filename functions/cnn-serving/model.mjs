// The CNN and its storage: pure-JS CPU backend of TensorFlow.js (no native tfjs-node here), and a
// tiny file format (model.json + weights.bin) because tfjs' own file:// saver needs tfjs-node.
import { readFile, writeFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { LABELS, SIZE } from './shapes.mjs';

// Production mode skips tfjs' debug checks and its console banner about installing tfjs-node.
tf.enableProdMode();
await tf.setBackend('cpu');
export { tf };

export function buildModel(seed) {
  const init = (k) => tf.initializers.glorotUniform({ seed: seed + k });
  const model = tf.sequential();
  model.add(tf.layers.conv2d({ inputShape: [SIZE, SIZE, 1], filters: 6, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu', kernelInitializer: init(2) }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 32, activation: 'relu', kernelInitializer: init(3) }));
  model.add(tf.layers.dense({ units: LABELS.length, activation: 'softmax', kernelInitializer: init(4) }));
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

export async function saveModel(model, dir) {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const { modelTopology, weightSpecs, weightData } = artifacts;
      await writeFile(`${dir}/model.json`, JSON.stringify({ modelTopology, weightSpecs, labels: LABELS }));
      await writeFile(`${dir}/weights.bin`, Buffer.from(weightData));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

export async function loadModel(dir) {
  const { modelTopology, weightSpecs } = JSON.parse(await readFile(`${dir}/model.json`, 'utf8'));
  const bin = await readFile(`${dir}/weights.bin`);
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology, weightSpecs, weightData }));
}
