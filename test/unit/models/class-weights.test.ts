import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
// Gradients for tf.grad; in training, importing @tensorflow/tfjs-layers registers them.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../../src/data/random.js';
import { BadRequest } from '../../../src/errors.js';
import { classWeightsSchema, resolveClassWeights, weightedCrossEntropy } from '../../../src/models/class-weights.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Evaluates the loss and frees every tensor involved. */
function loss(labels: number[][], predictions: number[][], weights: number[] | null, fromLogits = false): number {
  return tf.tidy(() =>
    weightedCrossEntropy(tf.tensor2d(labels), tf.tensor2d(predictions), weights, { fromLogits }).dataSync()[0],
  );
}

const oneHot = (labels: number[], k: number) => labels.map((y) => Array.from({ length: k }, (_, c) => (c === y ? 1 : 0)));

/** A seeded batch: labels, logits in [−4, 4] and their softmax probabilities. */
function batch(n: number, k: number, seed: number) {
  const rng = createRng(seed);
  const labels = Array.from({ length: n }, () => Math.floor(rng() * k));
  const logits = labels.map(() => Array.from({ length: k }, () => 8 * rng() - 4));
  const probs = logits.map((row) => {
    const e = row.map(Math.exp);
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
  return { labels: oneHot(labels, k), logits, probs, classes: labels };
}

describe('class weight options', () => {
  it('accept the three modes and explicit positive weights, nothing else', () => {
    for (const ok of ['none', 'balanced', 'auto', [1, 2.5]]) expect(classWeightsSchema.safeParse(ok).success).toBe(true);
    for (const bad of ['inverse', [], [0, 1], [-1, 2], [1, Infinity]]) {
      expect(classWeightsSchema.safeParse(bad).success).toBe(false);
    }
  });
});

describe('resolveClassWeights', () => {
  it('gives N / (K · n_c) in balanced mode, so the weights average 1 over the samples', () => {
    const w = resolveClassWeights('balanced', [10, 30, 60])!;
    [100 / 30, 100 / 90, 100 / 180].forEach((v, c) => expect(w[c]).toBeCloseTo(v, 12));
    expect(10 * w[0] + 30 * w[1] + 60 * w[2]).toBeCloseTo(100, 9);
  });

  it('gives an empty class weight 0 and leaves it out of K', () => {
    const w = resolveClassWeights('balanced', [0, 20, 80])!;
    expect(w).toEqual([0, 100 / (2 * 20), 100 / (2 * 80)]);
  });

  it('weights only when the largest class exceeds `imbalanceThreshold` times the smallest in auto mode', () => {
    expect(resolveClassWeights('auto', [10, 30])).toBeNull(); // ratio 3 is not above the default 3
    expect(resolveClassWeights('auto', [10, 31])).toEqual(resolveClassWeights('balanced', [10, 31]));
    expect(resolveClassWeights('auto', [10, 40], { imbalanceThreshold: 5 })).toBeNull();
    expect(resolveClassWeights('auto', [10, 60], { imbalanceThreshold: 5 })).not.toBeNull();
    expect(resolveClassWeights('auto', [0, 10, 20])).toBeNull(); // empty classes do not count as imbalance
  });

  it('gives null for none', () => {
    expect(resolveClassWeights('none', [1, 100])).toBeNull();
  });

  it('passes explicit weights through when there is one positive weight per class', () => {
    expect(resolveClassWeights([1, 2, 3], [5, 5, 5])).toEqual([1, 2, 3]);
  });

  it('rejects explicit weights of the wrong length or sign with a message saying what to give', () => {
    expect(() => resolveClassWeights([1, 2], [5, 5, 5])).toThrow(BadRequest);
    expect(() => resolveClassWeights([1, 2], [5, 5, 5])).toThrow(/2 entries but the dataset has 3 classes/);
    expect(() => resolveClassWeights([1, 0, 2], [5, 5, 5])).toThrow(/classWeights\[1\] is 0; .* must be a positive number/);
  });

  it('refuses to balance a training set with no samples', () => {
    expect(() => resolveClassWeights('balanced', [0, 0])).toThrow(/nothing to weight/);
  });
});

describe('weightedCrossEntropy', () => {
  it('equals the plain mean cross-entropy with unit weights or none', () => {
    const { labels, probs, classes } = batch(16, 4, 1);
    const byHand = -classes.reduce((s, y, i) => s + Math.log(probs[i][y]), 0) / classes.length;
    expect(loss(labels, probs, null)).toBeCloseTo(byHand, 5);
    expect(loss(labels, probs, [1, 1, 1, 1])).toBeCloseTo(byHand, 5);
  });

  it('up-weights a class’s mistakes exactly as Σ w_y · CE / Σ w_y', () => {
    // Sample 0 (class 0) is right with p = 0.8; sample 1 (class 1) is wrong, p = 0.4 on its class.
    const labels = oneHot([0, 1], 2);
    const probs = [
      [0.8, 0.2],
      [0.6, 0.4],
    ];
    const [ce0, ce1] = [-Math.log(0.8), -Math.log(0.4)];
    expect(loss(labels, probs, null)).toBeCloseTo((ce0 + ce1) / 2, 6);
    expect(loss(labels, probs, [1, 3])).toBeCloseTo((ce0 + 3 * ce1) / 4, 6);
    expect(loss(labels, probs, [1, 3])).toBeGreaterThan(loss(labels, probs, null));
  });

  it('does not change when every weight is scaled by the same factor', () => {
    const { labels, probs } = batch(12, 3, 2);
    expect(loss(labels, probs, [2, 6, 10])).toBeCloseTo(loss(labels, probs, [1, 3, 5]), 6);
  });

  it('gives the same loss from logits as from their softmax probabilities', () => {
    const { labels, logits, probs } = batch(20, 5, 3);
    const w = [0.5, 1, 2, 1.5, 3];
    expect(loss(labels, logits, w, true)).toBeCloseTo(loss(labels, probs, w, false), 5);
    expect(loss(labels, logits, null, true)).toBeCloseTo(loss(labels, probs, null, false), 5);
  });

  it('stays finite for extreme logits and for zero probabilities', () => {
    expect(loss(oneHot([1], 2), [[1000, -1000]], null, true)).toBeCloseTo(2000, 2);
    expect(loss(oneHot([1], 2), [[1, 0]], null, false)).toBeCloseTo(-Math.log(1e-7), 4);
  });

  it('gives 0 for a batch whose weights sum to 0', () => {
    expect(loss(oneHot([0, 0], 2), [[0.5, 0.5], [0.9, 0.1]], [0, 1])).toBe(0);
  });

  it('has gradient w_i · (softmax_i − y_i) / Σ w with respect to the logits', () => {
    const labels = oneHot([0, 1], 2);
    const logits = [
      [2, 0],
      [1, 1],
    ];
    const w = [1, 3];
    const grad = tf.tidy(() => {
      const y = tf.tensor2d(labels);
      const g = tf.grad((z) => weightedCrossEntropy(y, z as tf.Tensor2D, w, { fromLogits: true }));
      return g(tf.tensor2d(logits)).arraySync() as number[][];
    });
    const p0 = Math.exp(2) / (Math.exp(2) + 1);
    const expected = [
      [(1 * (p0 - 1)) / 4, (1 * (1 - p0)) / 4],
      [(3 * 0.5) / 4, (3 * (0.5 - 1)) / 4],
    ];
    grad.forEach((row, i) => row.forEach((v, c) => expect(v).toBeCloseTo(expected[i][c], 6)));
  });

  it('rejects mismatched shapes and weight counts', () => {
    expect(() => loss(oneHot([0], 2), [[0.2, 0.3, 0.5]], null)).toThrow(/differ/);
    expect(() => loss(oneHot([0], 2), [[0.5, 0.5]], [1, 2, 3])).toThrow(/3 weights for 2 classes/);
  });

  it('leaves no tensors behind', () => {
    const y = tf.tensor2d(oneHot([0, 1, 2], 3));
    const z = tf.randomNormal([3, 3]) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    for (let k = 0; k < 50; k++) weightedCrossEntropy(y, z, [1, 2, 3], { fromLogits: true }).dispose();
    expect(tf.memory().numTensors).toBe(before);
    y.dispose();
    z.dispose();
  });
});
