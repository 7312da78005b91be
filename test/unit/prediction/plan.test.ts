import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../../src/data/random.js';
import { ARCHITECTURE_PRESETS, buildModel, type Architecture } from '../../../src/models/architecture.js';
import { selectBackend } from '../../../src/models/backend.js';
import { planBytes, planFromLayers, UnsupportedLayer } from '../../../src/prediction/plan.js';
import { createEnsembleRunner } from '../../../src/prediction/runtime.js';

/** Moves every batch-norm layer's statistics and affine terms away from their initial 1s and 0s, so folding shows. */
function perturbBatchNorm(model: tfl.LayersModel, seed: number): void {
  const rng = createRng(seed);
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    layer.setWeights(layer.getWeights().map((w, j) => tf.tensor(Float32Array.from(w.dataSync(), () => (j === 3 ? 0.2 : -0.5) + rng()), w.shape)));
  }
}

function inputs(n: number, size: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n * size }, () => rng() * 2 - 1);
}

/** Largest absolute difference between the runner's output and each member's own predict(). */
function maxDifference(models: tfl.LayersModel[], shape: { height: number; width: number; channels: number }, n: number): number {
  const size = shape.height * shape.width * shape.channels;
  const x = inputs(n, size, 7);
  const runner = createEnsembleRunner(models.map(planFromLayers));
  const got = runner.run(x, n);
  runner.dispose();
  let worst = 0;
  models.forEach((m, i) => {
    const want = tf.tidy(() => (m.predict(tf.tensor4d(x, [n, shape.height, shape.width, shape.channels])) as tf.Tensor).dataSync());
    const k = want.length / n;
    for (let j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(got[i * n * k + j] - want[j]));
  });
  return worst;
}

const shape = { height: 12, width: 12, channels: 3, numClasses: 4 };
const base: Architecture = {
  blocks: [
    { filters: 6, convs: 2, kernelSize: 3, batchNorm: true, pool: 'max', dropout: 0.1 },
    { filters: 8, convs: 1, kernelSize: 5, batchNorm: false, pool: 'avg', dropout: 0 },
  ],
  dense: [16, 8],
  denseDropout: 0.3,
  l2: 1e-4,
  activation: 'relu',
  globalPooling: false,
};

describe('inference plans', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('match LayersModel.predict for the small preset, batch norm folded, across members and batch sizes', () => {
    const grey = { height: 28, width: 28, channels: 1, numClasses: 10 };
    const models = [1, 2, 3].map((seed) => buildModel(ARCHITECTURE_PRESETS.small, grey, seed));
    models.forEach((m, i) => perturbBatchNorm(m, i + 10));
    for (const n of [1, 5]) expect(maxDifference(models, grey, n)).toBeLessThan(1e-5);
    models.forEach((m) => m.dispose());
  });

  it.each(['relu', 'elu', 'selu', 'swish'] as const)('match for %s activations, avg pooling, unnormalised convs and two dense layers', (activation) => {
    const model = buildModel({ ...base, activation }, shape, 5);
    perturbBatchNorm(model, 3);
    expect(maxDifference([model], shape, 3)).toBeLessThan(1e-5);
    model.dispose();
  });

  it('match with global average pooling', () => {
    const model = buildModel({ ...base, globalPooling: true }, shape, 6);
    perturbBatchNorm(model, 4);
    expect(maxDifference([model], shape, 2)).toBeLessThan(1e-5);
    model.dispose();
  });

  it('fold batch norm away: the small preset plans to conv, pool, conv, pool, flatten, dense, dense', () => {
    const model = buildModel(ARCHITECTURE_PRESETS.small, { height: 28, width: 28, channels: 1, numClasses: 10 }, 1);
    const plan = planFromLayers(model);
    expect(plan.ops.map((o) => o.op)).toEqual(['conv', 'pool', 'conv', 'pool', 'flatten', 'dense', 'dense']);
    expect(plan.ops.map((o) => ('activation' in o ? o.activation : '-'))).toEqual(['relu', '-', 'relu', '-', '-', 'relu', 'softmax']);
    expect(plan.outputs).toBe(10);
    // Conv filters and biases plus dense kernels and biases; the folded statistics add nothing.
    const params = 3 * 3 * 32 + 32 + 3 * 3 * 32 * 64 + 64 + 7 * 7 * 64 * 128 + 128 + 128 * 10 + 10;
    expect(planBytes(plan)).toBe(4 * params);
    model.dispose();
  });

  it('move an activation that follows a max pool into the convolution before it where the two commute; not swish', () => {
    const kinds = (activation: Architecture['activation']) => {
      const model = buildModel({ ...base, activation }, shape, 8);
      const ops = planFromLayers(model).ops.slice(0, 4);
      model.dispose();
      return ops.map((o) => `${o.op}${'activation' in o ? `:${o.activation}` : ''}`);
    };
    // Block 1: conv, (batch norm), activation, conv, (batch norm), max pool, activation: built pool first.
    expect(kinds('relu')).toEqual(['conv:relu', 'conv:relu', 'pool', 'conv:relu']);
    expect(kinds('elu')).toEqual(['conv:elu', 'conv:elu', 'pool', 'conv:elu']);
    // SELU commutes but has no fused kernel: it stays a pass of its own, on the pooled (smaller) tensor.
    expect(kinds('selu')).toEqual(['conv:selu', 'conv:linear', 'pool', 'activation:selu']);
    expect(kinds('swish')).toEqual(['conv:swish', 'conv:swish', 'pool', 'conv:swish']);
  });

  it('give member 0\'s penultimate activations as features, which the last layer turns into its probabilities', () => {
    const grey = { height: 28, width: 28, channels: 1, numClasses: 10 };
    const models = [4, 5].map((seed) => buildModel(ARCHITECTURE_PRESETS.small, grey, seed));
    const runner = createEnsembleRunner(models.map(planFromLayers));
    expect(runner.featureSize).toBe(128);
    const x = inputs(3, runner.sampleSize, 9);
    const feats = runner.features(x, 3);
    expect(feats.length).toBe(3 * 128);
    const [kernel, bias] = models[0].layers.at(-1)!.getWeights();
    const want = tf.tidy(() => tf.softmax(tf.add(tf.matMul(tf.tensor2d(feats, [3, 128]), kernel), bias)).dataSync());
    const probs = runner.run(x, 3).subarray(0, 30);
    want.forEach((v, j) => expect(probs[j]).toBeCloseTo(v, 5));
    runner.dispose();
    models.forEach((m) => m.dispose());
  });

  it('refuse layers they cannot express, naming the layer', () => {
    const model = tfl.sequential({
      layers: [tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3 }), tfl.layers.upSampling2d({}), tfl.layers.flatten(), tfl.layers.dense({ units: 2 })],
    });
    expect(() => planFromLayers(model)).toThrow(UnsupportedLayer);
    expect(() => planFromLayers(model)).toThrow(/UpSampling2D/);
    model.dispose();
  });

  it('reject a batch whose length does not match its instance count, and free every tensor', () => {
    const model = buildModel(base, shape, 7);
    const before = tf.memory().numTensors;
    const runner = createEnsembleRunner([planFromLayers(model)]);
    expect(() => runner.run(new Float32Array(10), 1)).toThrow(RangeError);
    for (let i = 0; i < 20; i++) runner.run(inputs(2, runner.sampleSize, i), 2);
    runner.dispose();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('with testTimeFlip, answer with the mean of the instance and its mirror image, member by member', () => {
    const models = [11, 12].map((seed) => buildModel(base, shape, seed));
    const plans = models.map(planFromLayers);
    const n = 3;
    const [h, w, c] = [shape.height, shape.width, shape.channels];
    const x = inputs(n, h * w * c, 5);
    // The same instances mirrored left to right, by hand (NHWC: reverse each row's columns).
    const mirrored = new Float32Array(x.length);
    for (let i = 0; i < n; i++)
      for (let r = 0; r < h; r++)
        for (let col = 0; col < w; col++)
          for (let k = 0; k < c; k++) mirrored[((i * h + r) * w + (w - 1 - col)) * c + k] = x[((i * h + r) * w + col) * c + k];
    const plain = createEnsembleRunner(plans);
    const a = plain.run(x, n);
    const b = plain.run(mirrored, n);
    plain.dispose();
    // Member 0 flips at test time, member 1 does not.
    const before = tf.memory().numTensors;
    const tta = createEnsembleRunner([{ ...plans[0], testTimeFlip: true }, plans[1]]);
    const got = tta.run(x, n);
    tta.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const k = shape.numClasses;
    let worst = 0;
    for (let j = 0; j < n * k; j++) {
      worst = Math.max(worst, Math.abs(got[j] - (a[j] + b[j]) / 2), Math.abs(got[n * k + j] - a[n * k + j]));
    }
    expect(worst).toBeLessThan(1e-6);
    // The flip matters for these random weights, so the test would see a member that ignored it.
    let moved = 0;
    for (let j = 0; j < n * k; j++) moved = Math.max(moved, Math.abs(a[j] - b[j]));
    expect(moved).toBeGreaterThan(1e-3);
    models.forEach((m) => m.dispose());
  });
});
