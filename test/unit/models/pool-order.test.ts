import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from './close.js';
import { buildModel, type Architecture } from '../../../src/models/architecture.js';
import { selectBackend } from '../../../src/models/backend.js';

const shape = { height: 12, width: 12, channels: 2, numClasses: 3 };
const arch = (activation: Architecture['activation'], batchNorm: boolean): Architecture => ({
  blocks: [
    { filters: 4, convs: 2, kernelSize: 3, batchNorm, pool: 'max', dropout: 0 },
    { filters: 8, convs: 1, kernelSize: 3, batchNorm, pool: 'max', dropout: 0 },
  ],
  dense: [6],
  denseDropout: 0,
  l2: 0,
  activation,
  globalPooling: false,
});

/** The same network with every max pool after the activation before it: the order tfjs-layers users write. */
async function conventional(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  const json = model.toJSON(null, false) as { config: { layers: Array<{ class_name: string }> } };
  const layers = json.config.layers;
  for (let i = 0; i + 1 < layers.length; i++) {
    if (layers[i].class_name === 'MaxPooling2D' && layers[i + 1].class_name === 'Activation') {
      [layers[i], layers[i + 1]] = [layers[i + 1], layers[i]];
      i++;
    }
  }
  const other = (await tfl.models.modelFromJSON({ modelTopology: json })) as tfl.LayersModel;
  other.setWeights(model.getWeights());
  return other;
}

/** Output and the gradient of sum(output · w) for every trainable weight, in training mode. */
function outputAndGradients(model: tfl.LayersModel, x: tf.Tensor, w: tf.Tensor): Float32Array[] {
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(model.apply(x, { training: true }) as tf.Tensor, w)) as tf.Scalar);
    const byWeight = model.trainableWeights.map((v) => grads[(v.read() as tf.Variable).name]);
    expect(byWeight.every((g) => g != null)).toBe(true);
    return [value, ...byWeight].map((t) => t.dataSync() as Float32Array);
  });
}

describe('max pooling before the activation', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  for (const activation of ['relu', 'elu', 'selu'] as const) {
    for (const batchNorm of [false, true]) {
      it(`${activation}${batchNorm ? ', batch norm' : ''}: pools first, with the output and every gradient of the conventional order`, async () => {
        const model = buildModel(arch(activation, batchNorm), shape, 3);
        const names = model.layers.map((l) => l.getClassName()).filter((n) => n === 'MaxPooling2D' || n === 'Activation');
        expect(names).toEqual(['Activation', 'MaxPooling2D', 'Activation', 'MaxPooling2D', 'Activation']);
        const other = await conventional(model);
        expect(other.layers.map((l) => l.getClassName()).filter((n) => n === 'MaxPooling2D' || n === 'Activation')).toEqual([
          'Activation',
          'Activation',
          'MaxPooling2D',
          'Activation',
          'MaxPooling2D',
        ]);
        const x = tf.randomNormal([4, shape.height, shape.width, shape.channels], 0, 1, 'float32', 5);
        const w = tf.randomNormal([4, shape.numClasses], 0, 1, 'float32', 6);
        const ours = outputAndGradients(model, x, w);
        const theirs = outputAndGradients(other, x, w);
        expect(ours.length).toBe(theirs.length);
        ours.forEach((g, i) => expectClose(g, theirs[i], 1e-5));
        tf.dispose([x, w]);
        model.dispose();
        other.dispose();
      });
    }
  }

  it('swish, which is not monotonic, keeps the activation before the pool', () => {
    const model = buildModel(arch('swish', true), shape, 3);
    const names = model.layers.map((l) => l.getClassName()).filter((n) => n === 'MaxPooling2D' || n === 'Activation');
    expect(names).toEqual(['Activation', 'Activation', 'MaxPooling2D', 'Activation', 'MaxPooling2D']);
    model.dispose();
  });
});
