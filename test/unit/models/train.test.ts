import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../../src/data/random.js';
import type { Architecture } from '../../../src/models/architecture.js';
import { augmentationSchema } from '../../../src/models/augment.js';
import { selectBackend } from '../../../src/models/backend.js';
import type { SplitData } from '../../../src/models/batches.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../../src/models/checkpoint.js';
import { deserializeModel, serializeModel } from '../../../src/models/serialize.js';
import { smoothLabels, trainMember, trainingSchema, TrainingDiverged, type TrainInput, type TrainState } from '../../../src/models/train.js';

/** Two classes of 8×8 grey images: a bright left half (class 0) or a bright right half (class 1), with noise. */
function halves(count: number, seed: number, flipLabels = false): SplitData {
  const rng = createRng(seed);
  const pixels = new Uint8Array(count * 64);
  const labels = new Uint16Array(count);
  for (let i = 0; i < count; i++) {
    const cls = i % 2;
    labels[i] = flipLabels ? 1 - cls : cls;
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        const bright = (x < 4) === (cls === 0);
        pixels[i * 64 + y * 8 + x] = Math.max(0, Math.min(255, (bright ? 170 : 60) + Math.round((rng() - 0.5) * 120)));
      }
    }
  }
  return { count, pixels, labels };
}

const tiny: Architecture = {
  blocks: [{ filters: 4, convs: 1, kernelSize: 3, batchNorm: true, pool: 'max', dropout: 0.1 }],
  dense: [8],
  denseDropout: 0.2,
  l2: 1e-4,
  activation: 'relu',
  globalPooling: false,
};
const shape = { height: 8, width: 8, channels: 1, numClasses: 2 };
const norm = { mean: [0.45], std: [0.25] };

function input(overrides: Omit<Partial<TrainInput>, 'training'> & { training?: Record<string, unknown> } = {}): TrainInput {
  return {
    data: { train: halves(128, 1), val: halves(64, 2), shape, norm },
    architecture: tiny,
    augmentation: augmentationSchema.parse({}),
    seed: 11,
    ...overrides,
    training: trainingSchema.parse({ epochs: 4, batchSize: 16, learningRate: 0.01, ...overrides.training }),
  };
}

const weightsOf = async (model: { getWeights(): tf.Tensor[] }) => Promise.all(model.getWeights().map(async (w) => Array.from(await w.data())));

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('training one member on the wasm backend', () => {
  it('learns a separable task and reports per-epoch history', async () => {
    const result = await trainMember(input());
    expect(result.history).toHaveLength(4);
    const last = result.history.at(-1)!;
    expect(last.valAccuracy).toBeGreaterThan(0.9);
    expect(last.loss).toBeLessThan(result.history[0].loss);
    for (const h of result.history) {
      expect(h.learningRate).toBeCloseTo(0.01);
      expect(h.seconds).toBeGreaterThan(0);
    }
    result.model.dispose();
  });

  it('trains against smoothed targets with labelSmoothing: the loss cannot fall below their entropy, accuracy is unchanged', async () => {
    expect(Array.from(smoothLabels(tf.tensor2d([[0, 1, 0, 0]]), 0.2).dataSync())).toEqual([0.05, 0.85, 0.05, 0.05].map(Math.fround));
    expect(() => trainingSchema.parse({ labelSmoothing: 0.6 })).toThrow();
    expect(trainingSchema.parse({}).labelSmoothing).toBe(0);
    const plain = await trainMember(input({ training: { epochs: 6 } }));
    const smoothed = await trainMember(input({ training: { epochs: 6, labelSmoothing: 0.2 } }));
    // two classes, targets 0.9 / 0.1: cross-entropy is at least their entropy (the L2 penalty only adds to it)
    const floor = -(0.9 * Math.log(0.9) + 0.1 * Math.log(0.1));
    for (const h of smoothed.history) expect(h.loss).toBeGreaterThan(floor);
    expect(plain.history.at(-1)!.loss).toBeLessThan(smoothed.history.at(-1)!.loss);
    expect(smoothed.history.at(-1)!.valAccuracy).toBeGreaterThan(0.9);
    plain.model.dispose();
    smoothed.model.dispose();
  });

  it('gives identical weights for the same seed and different weights for another', async () => {
    const a = await trainMember(input({ training: { epochs: 2 } }));
    const b = await trainMember(input({ training: { epochs: 2 } }));
    const c = await trainMember(input({ seed: 12, training: { epochs: 2 } }));
    expect(await weightsOf(a.model)).toEqual(await weightsOf(b.model));
    expect(await weightsOf(a.model)).not.toEqual(await weightsOf(c.model));
    [a, b, c].forEach((r) => r.model.dispose());
  });

  it('stops early and restores the weights of the best validation epoch', async () => {
    // Validation labels are the opposite of training labels: validation loss rises as training succeeds.
    const states: TrainState[] = [];
    const result = await trainMember(
      input({
        data: { train: halves(128, 1), val: halves(64, 2, true), shape, norm },
        training: { epochs: 12, earlyStopping: { patience: 2 } },
        onEpoch: async (_log, state) => {
          states.push(await state());
        },
      }),
    );
    expect(result.stopReason).toBe('early-stopping');
    const valLosses = result.history.map((h) => h.valLoss!);
    const bestEpoch = valLosses.indexOf(Math.min(...valLosses)) + 1;
    expect(result.bestEpoch).toBe(bestEpoch);
    expect(result.history).toHaveLength(bestEpoch + 2);
    const best = states[bestEpoch - 1].weights.map((w) => Array.from(w.data));
    expect(await weightsOf(result.model)).toEqual(best);
    result.model.dispose();
  });

  it('resumes from a checkpoint to exactly the weights of an uninterrupted run', async () => {
    const straight = await trainMember(input({ training: { epochs: 4, earlyStopping: { enabled: false, restoreBestWeights: false } } }));
    let saved: Buffer | null = null;
    const first = await trainMember(
      input({
        training: { epochs: 4, earlyStopping: { enabled: false, restoreBestWeights: false } },
        onEpoch: async (log, state) => {
          if (log.epoch === 2) saved = encodeCheckpoint(await state());
        },
        shouldStop: () => saved !== null,
      }),
    );
    expect(first.stopReason).toBe('cancelled');
    const resumed = await trainMember(
      input({ training: { epochs: 4, earlyStopping: { enabled: false, restoreBestWeights: false } }, resume: decodeCheckpoint(saved!) }),
    );
    expect(resumed.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4]);
    expect(await weightsOf(resumed.model)).toEqual(await weightsOf(straight.model));
    [straight, first, resumed].forEach((r) => r.model.dispose());
  });

  it('ends with a clear reason when the loss diverges (learning rate 1e3)', async () => {
    const err = await trainMember(input({ training: { learningRate: 1000, optimizer: 'sgd', epochs: 3 } })).catch((e) => e);
    expect(err).toBeInstanceOf(TrainingDiverged);
    expect(err.message).toMatch(/learning rate/i);
  });

  it('trains with augmentation, balanced class weights and a cosine schedule', async () => {
    const result = await trainMember(
      input({
        augmentation: augmentationSchema.parse({ horizontalFlip: false, shift: 0.1, brightness: 0.1, gaussianNoise: 0.02 }),
        training: { epochs: 3, classWeights: 'balanced', schedule: { type: 'cosine', warmupEpochs: 1, minLearningRate: 0.001 } },
      }),
    );
    expect(result.classWeights).toEqual([1, 1]);
    const lrs = result.history.map((h) => h.learningRate);
    expect(new Set(lrs).size).toBe(3);
    expect(result.history.at(-1)!.valAccuracy).toBeGreaterThan(0.8);
    result.model.dispose();
  });

  it('does not leak tensors across a training run', async () => {
    const before = tf.memory().numTensors;
    const result = await trainMember(input({ training: { epochs: 2 } }));
    result.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('serialises the trained model and loads it back with identical predictions', async () => {
    const result = await trainMember(input({ training: { epochs: 1 } }));
    const s = await serializeModel(result.model);
    const loaded = await deserializeModel({ modelJson: JSON.parse(JSON.stringify(s.modelJson)), weights: s.weights });
    const x = tf.randomNormal([3, 8, 8, 1], 0, 1, 'float32', 5);
    const a = result.model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
    tf.dispose([x, a, b]);
    result.model.dispose();
    loaded.dispose();
  });
});
