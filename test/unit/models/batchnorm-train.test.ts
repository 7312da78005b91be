import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers registers tfjs-core's gradient functions in Node (the core bundle alone has none), as in the service.
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from './close.js';
import { selectBackend, withBackend } from '../../../src/models/backend.js';
import { batchNormalization, channelMoments, fusedTrainingApplies } from '../../../src/models/batchnorm-train.js';
import { buildModel } from '../../../src/models/architecture.js';

type Backend = 'cpu' | 'wasm';

function seeded(shape: number[], seed: number, offset = 0, std = 1): Float32Array {
  return tf.tidy(() => tf.add(tf.randomNormal(shape, 0, std, 'float32', seed), offset).dataSync() as Float32Array);
}

/** Float64 mean and biased variance per channel of a [..., C] array. */
function referenceMoments(x: Float32Array, channels: number): { mean: number[]; variance: number[] } {
  const rows = x.length / channels;
  const mean = new Array<number>(channels).fill(0);
  const variance = new Array<number>(channels).fill(0);
  for (let i = 0; i < x.length; i++) mean[i % channels] += x[i] / rows;
  for (let i = 0; i < x.length; i++) variance[i % channels] += (x[i] - mean[i % channels]) ** 2 / rows;
  return { mean, variance };
}

interface StepResult {
  loss: number;
  y: Float32Array;
  dx: Float32Array;
  dGamma: Float32Array;
  dBeta: Float32Array;
  movingMean: Float32Array;
  movingVariance: Float32Array;
  kernels: string[];
}

/**
 * One training-mode call of a batch-norm layer on `backend`, with set weights: the output, the gradients of
 * sum(y·w) with respect to x, γ and β, the moving statistics after the call, and the kernels it ran.
 */
function trainingCall(backend: Backend, make: () => tfl.layers.Layer, shape: number[], seed: number, offset = 0): Promise<StepResult> {
  const channels = shape[shape.length - 1];
  const [xv, wv, gamma, beta, mm, mv] = [
    seeded(shape, seed, offset, 2),
    seeded(shape, seed + 1),
    seeded([channels], seed + 2, 1, 0.3),
    seeded([channels], seed + 3),
    seeded([channels], seed + 4),
    seeded([channels], seed + 5, 2, 0.2),
  ];
  return withBackend(backend, async () => {
    const layer = make();
    tf.tidy(() => {
      layer.apply(tf.zeros(shape), { training: false });
    });
    layer.setWeights([tf.tensor1d(gamma), tf.tensor1d(beta), tf.tensor1d(mm), tf.tensor1d(mv)]);
    const x = tf.variable(tf.tensor(xv, shape), true, `x${seed}${backend}`);
    const w = tf.tensor(wv, shape);
    const result: Partial<StepResult> = {};
    const profile = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => {
        const out = layer.apply(x, { training: true }) as tf.Tensor;
        result.y = out.dataSync() as Float32Array;
        return tf.sum(tf.mul(out, w)) as tf.Scalar;
      });
      // A layer variable's tf.Variable carries the layer variable's (unique) name.
      const [gammaVar, betaVar] = layer.trainableWeights;
      result.loss = value.dataSync()[0];
      result.dx = grads[x.name].dataSync() as Float32Array;
      result.dGamma = grads[gammaVar.name].dataSync() as Float32Array;
      result.dBeta = grads[betaVar.name].dataSync() as Float32Array;
      tf.dispose([value, ...Object.values(grads)]);
    });
    const [, , movingMean, movingVariance] = layer.getWeights().map((t) => t.dataSync() as Float32Array);
    tf.dispose([x, w]);
    layer.dispose();
    return { ...result, movingMean, movingVariance, kernels: profile.kernelNames } as StepResult;
  });
}

const plain = () => tfl.layers.batchNormalization({ momentum: 0.9 });
const fused = () => batchNormalization({ momentum: 0.9 });

function expectSameStep(actual: StepResult, reference: StepResult): void {
  expectClose(actual.y, reference.y);
  expect(actual.loss).toBeCloseTo(reference.loss, 2);
  expectClose(actual.dx, reference.dx);
  expectClose(actual.dGamma, reference.dGamma);
  expectClose(actual.dBeta, reference.dBeta);
  expectClose(actual.movingMean, reference.movingMean);
  expectClose(actual.movingVariance, reference.movingVariance);
}

beforeAll(() => selectBackend('cpu'));

describe('QuorumChannelMoments on wasm', () => {
  it.each([
    [[5, 7, 6, 8], 0],
    [[33, 12], 0],
    [[2, 3, 3, 4], -2],
    // A mean far from zero: a one-pass Σx² − (Σx)²/N would lose the variance to cancellation; the kernel's sums are
    // of x minus a shift near the mean.
    [[64, 8, 8, 16], 1000],
    // ... also where the first row is an outlier (300 = 150 standard deviations off), which a shift by the first row
    // alone would turn into the same cancellation
    [[64, 8, 8, 16], 1000, 300],
    [[3, 4], 5, 40],
  ])('gives the float64 mean and biased variance of a %j tensor (offset %d, first row off by %d)', async (shape, offset, outlier = 0) => {
    const x = seeded(shape, 11, offset, 2);
    const channels = shape[shape.length - 1];
    for (let c = 0; c < channels; c++) x[c] += outlier;
    const [mean, variance] = await withBackend('wasm', () =>
      tf.tidy(() => channelMoments(tf.tensor(x, shape)).map((t) => t.dataSync() as Float32Array)),
    );
    const ref = referenceMoments(x, channels);
    expectClose(mean, ref.mean, 1e-5);
    expectClose(variance, ref.variance, 1e-4);
  });
});

describe('batch normalisation layer with the fused training pass', () => {
  it.each([
    [[4, 6, 5, 8], 0],
    [[16, 12], 3],
    [[8, 7, 7, 32], -1],
  ])('on wasm gives what tfjs-layers gives on cpu for %j (offset %d): output, gradients, moving statistics', async (shape, offset) => {
    const reference = await trainingCall('cpu', plain, shape, 21, offset);
    const actual = await trainingCall('wasm', fused, shape, 21, offset);
    expectSameStep(actual, reference);
    expect(actual.kernels).toContain('QuorumChannelMoments');
    expect(actual.kernels).toContain('QuorumBatchNormGrad');
    expect(reference.kernels).not.toContain('QuorumBatchNormGrad');
  });

  it('is the plain layer on cpu and for channel counts that are not a multiple of 4', async () => {
    const onCpu = await trainingCall('cpu', fused, [4, 5, 5, 8], 31);
    expectSameStep(onCpu, await trainingCall('cpu', plain, [4, 5, 5, 8], 31));
    expect(onCpu.kernels).not.toContain('QuorumChannelMoments');
    const sixChannels = await trainingCall('wasm', fused, [4, 5, 5, 6], 41);
    expectSameStep(sixChannels, await trainingCall('cpu', plain, [4, 5, 5, 6], 41));
    expect(sixChannels.kernels).not.toContain('QuorumChannelMoments');
  });

  it('normalises with the moving statistics at inference, as the plain layer', async () => {
    const x = seeded([3, 4, 4, 8], 51, 1);
    const weights = [seeded([8], 52, 1, 0.3), seeded([8], 53), seeded([8], 54), seeded([8], 55, 2, 0.2)];
    const infer = (backend: Backend, make: () => tfl.layers.Layer) =>
      withBackend(backend, () =>
        tf.tidy(() => {
          const layer = make();
          layer.apply(tf.zeros([3, 4, 4, 8]), { training: false });
          layer.setWeights(weights.map((w) => tf.tensor1d(w)));
          return (layer.apply(tf.tensor(x, [3, 4, 4, 8]), { training: false }) as tf.Tensor).dataSync() as Float32Array;
        }),
      );
    expectClose(await infer('wasm', fused), await infer('cpu', plain));
  });

  it('applies only to non-empty float32 tensors on wasm with the kernels attached', async () => {
    await withBackend('wasm', () => {
      tf.tidy(() => {
        expect(fusedTrainingApplies(tf.zeros([2, 4]))).toBe(true);
        expect(fusedTrainingApplies(tf.zeros([2, 6]))).toBe(false);
        expect(fusedTrainingApplies(tf.zeros([0, 4]))).toBe(false);
        expect(fusedTrainingApplies(tf.zeros([8]))).toBe(false);
        expect(fusedTrainingApplies(tf.zeros([2, 4], 'int32'))).toBe(false);
      });
    });
    tf.tidy(() => {
      expect(fusedTrainingApplies(tf.zeros([2, 4]))).toBe(false);
    });
  });

  it('serialises as the plain BatchNormalization, so saved models load without this module', async () => {
    const shape = { height: 8, width: 8, channels: 1, numClasses: 3 };
    const arch = { blocks: [{ filters: 4, convs: 1, kernelSize: 3, batchNorm: true, pool: 'max' as const, dropout: 0 }], dense: [8], denseDropout: 0, l2: 0, activation: 'relu' as const, globalPooling: false };
    const model = buildModel(arch, shape, 1);
    const json = JSON.stringify(model.toJSON(null, false));
    expect(json).toContain('"class_name":"BatchNormalization"');
    const restored = await tfl.models.modelFromJSON(JSON.parse(json));
    const bn = restored.layers.find((l) => l.getClassName() === 'BatchNormalization')!;
    expect(bn).toBeDefined();
    expect(bn.constructor).toBe(plain().constructor);
    model.dispose();
    restored.dispose();
  });

  it('keeps the tensor count flat over training steps of a model built with it', async () => {
    await withBackend('wasm', () => {
      const shape = { height: 8, width: 8, channels: 1, numClasses: 3 };
      const arch = { blocks: [{ filters: 8, convs: 1, kernelSize: 3, batchNorm: true, pool: 'max' as const, dropout: 0 }], dense: [8], denseDropout: 0, l2: 0, activation: 'relu' as const, globalPooling: false };
      const model = buildModel(arch, shape, 2);
      const opt = tf.train.adam(1e-2);
      const x = tf.randomNormal([6, 8, 8, 1], 0, 1, 'float32', 3);
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32'), 3);
      const step = () => {
        const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
        const value = loss.dataSync()[0];
        loss.dispose();
        return value;
      };
      const first = step();
      const count = tf.memory().numTensors;
      for (let k = 0; k < 5; k++) step();
      expect(tf.memory().numTensors).toBe(count);
      expect(step()).toBeLessThan(first);
      tf.dispose([x, y]);
      opt.dispose();
      model.dispose();
    });
  });
});
