/**
 * Class weighting for imbalanced training sets: choosing per-class weights from the training counts, and the
 * weighted cross-entropy that uses them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { imbalanceRatio } from '../data/stats.js';
import { BadRequest } from '../errors.js';

export const classWeightsSchema = z
  .union([
    z.enum(['none', 'balanced', 'auto']),
    z.array(z.number().positive().finite()).min(1).describe('One positive weight per class, in class order.'),
  ])
  .describe("'none', 'balanced' (N / (K · n_c)), 'auto' (balanced only when imbalanced) or explicit weights.");

export type ClassWeightsOption = z.infer<typeof classWeightsSchema>;

/**
 * Per-class loss weights for the training counts, or null for unweighted training.
 *
 * 'balanced' gives w_c = N / (K · n_c), scikit-learn's compute_class_weight('balanced'), so each class carries
 * the same total weight and the weights average 1 over the training samples. K counts only the classes that
 * have samples, which keeps that average at 1; an empty class gets weight 0 (it never appears in a batch, and
 * a finite weight is safer than N / 0). 'auto' is 'balanced' when the largest class has more than
 * `imbalanceThreshold` (default 3) times the samples of the smallest non-empty one, and null otherwise. An
 * explicit array must hold one positive, finite weight per class.
 */
export function resolveClassWeights(
  option: ClassWeightsOption,
  counts: number[],
  opts: { imbalanceThreshold?: number } = {},
): number[] | null {
  if (Array.isArray(option)) {
    if (option.length !== counts.length) {
      throw new BadRequest(
        `classWeights has ${option.length} entries but the dataset has ${counts.length} classes; ` +
          'give one weight per class, in class order.',
        { field: 'classWeights' },
      );
    }
    const bad = option.findIndex((w) => !(w > 0) || !Number.isFinite(w));
    if (bad >= 0) {
      throw new BadRequest(`classWeights[${bad}] is ${option[bad]}; every class weight must be a positive number.`, {
        field: 'classWeights',
      });
    }
    return [...option];
  }
  if (option === 'none') return null;
  if (option === 'auto' && !(imbalanceRatio(counts) > (opts.imbalanceThreshold ?? 3))) return null;
  const total = counts.reduce((a, b) => a + b, 0);
  const present = counts.filter((n) => n > 0).length;
  if (present === 0) throw new Error('resolveClassWeights: every class count is 0; there is nothing to weight.');
  return counts.map((n) => (n > 0 ? total / (present * n) : 0));
}

/**
 * Class-weighted categorical cross-entropy of a batch: Σ_i w_{y_i} · CE_i / Σ_i w_{y_i}.
 *
 * Dividing by the batch's total weight rather than its size (PyTorch's CrossEntropyLoss with `weight` and
 * reduction 'mean') keeps the loss on the scale of plain cross-entropy whatever the batch's class mix, so the
 * learning rate means the same with and without weights; with all weights 1, or `weights` null, it is the plain
 * mean. Labels may be soft, in which case w_i = Σ_k y_ik · w_k. Logits go through logSoftmax (stable for
 * large magnitudes); probabilities are clipped to [1e-7, 1] before the log, as Keras does. A batch whose
 * weights sum to 0 (only empty-class labels) gives 0.
 */
export function weightedCrossEntropy(
  labelsOneHot: tf.Tensor2D,
  probsOrLogits: tf.Tensor2D,
  weights: number[] | null,
  opts: { fromLogits: boolean },
): tf.Scalar {
  const [, classes] = labelsOneHot.shape;
  if (labelsOneHot.shape.join() !== probsOrLogits.shape.join()) {
    throw new Error(`weightedCrossEntropy: labels ${labelsOneHot.shape} and predictions ${probsOrLogits.shape} differ.`);
  }
  if (weights !== null && weights.length !== classes) {
    throw new Error(`weightedCrossEntropy: ${weights.length} weights for ${classes} classes.`);
  }
  return tf.tidy(() => {
    const logProbs = opts.fromLogits ? tf.logSoftmax(probsOrLogits) : tf.log(tf.clipByValue(probsOrLogits, 1e-7, 1));
    const perSample = tf.neg(tf.sum(tf.mul(labelsOneHot, logProbs), 1));
    if (weights === null) return tf.mean(perSample) as tf.Scalar;
    const sampleWeights = tf.sum(tf.mul(labelsOneHot, tf.tensor1d(weights)), 1);
    const totalWeight = tf.sum(sampleWeights);
    return tf.div(tf.sum(tf.mul(sampleWeights, perSample)), tf.maximum(totalWeight, 1e-12)) as tf.Scalar;
  });
}
