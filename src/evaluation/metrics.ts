/** Classification metrics of a model's predicted probabilities against true labels. */

export interface ClassMetrics {
  class: string;
  /** Share of the samples predicted as this class that are this class; null when none were predicted as it. */
  precision: number | null;
  /** Share of this class's samples predicted as it; null when it has no samples. */
  recall: number | null;
  /** Harmonic mean of precision and recall; null when either is null, 0 when both are 0. */
  f1: number | null;
  /** Number of samples of this class. */
  support: number;
}

export interface ClassificationMetrics {
  samples: number;
  accuracy: number;
  /** Mean negative log-likelihood of the true class, in nats. */
  nll: number;
  /** Unweighted mean of the non-null per-class F1 scores (0 when every F1 is null). */
  macroF1: number;
  perClass: ClassMetrics[];
  /** confusion[true][predicted]: sample counts. */
  confusion: number[][];
}

// Probabilities are clamped here before the log so a confidently wrong sample costs ln(1e12) ≈ 27.6, not Infinity.
const MIN_PROBABILITY = 1e-12;

/** Index of the largest value in each row of an N×K row-major matrix; ties go to the lowest index. */
export function argmaxRows(probs: Float32Array, k: number): Int32Array {
  if (!Number.isInteger(k) || k < 1 || probs.length % k !== 0) {
    throw new RangeError(`argmaxRows: ${probs.length} values are not rows of ${k}.`);
  }
  const out = new Int32Array(probs.length / k);
  for (let r = 0; r < out.length; r++) {
    const base = r * k;
    let best = 0;
    for (let c = 1; c < k; c++) if (probs[base + c] > probs[base + best]) best = c;
    out[r] = best;
  }
  return out;
}

/**
 * Accuracy, NLL, macro-F1, per-class precision/recall/F1 and the confusion matrix of N×K row-major
 * probabilities, predicting the argmax of each row. Throws a RangeError when there are no samples, the shapes
 * disagree or a label is outside 0..K−1.
 */
export function classificationMetrics(
  probs: Float32Array,
  labels: ArrayLike<number>,
  classes: string[],
): ClassificationMetrics {
  const k = classes.length;
  const n = labels.length;
  if (n === 0) throw new RangeError('classificationMetrics: no samples.');
  if (probs.length !== n * k) {
    throw new RangeError(`classificationMetrics: ${probs.length} probabilities for ${n} samples of ${k} classes.`);
  }
  const predicted = argmaxRows(probs, k);
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  let nllSum = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= k) {
      throw new RangeError(`classificationMetrics: label ${y} of sample ${i} is outside 0..${k - 1}.`);
    }
    confusion[y][predicted[i]]++;
    if (predicted[i] === y) correct++;
    nllSum -= Math.log(Math.max(probs[i * k + y], MIN_PROBABILITY));
  }

  const perClass = classes.map((name, c) => {
    const support = confusion[c].reduce((s, v) => s + v, 0);
    const predictedAs = confusion.reduce((s, row) => s + row[c], 0);
    const hits = confusion[c][c];
    const precision = predictedAs > 0 ? hits / predictedAs : null;
    const recall = support > 0 ? hits / support : null;
    return { class: name, precision, recall, f1: f1Score(precision, recall), support };
  });
  const f1s = perClass.flatMap((m) => (m.f1 === null ? [] : [m.f1]));
  const macroF1 = f1s.length > 0 ? f1s.reduce((s, v) => s + v, 0) / f1s.length : 0;
  return { samples: n, accuracy: correct / n, nll: nllSum / n, macroF1, perClass, confusion };
}

function f1Score(precision: number | null, recall: number | null): number | null {
  if (precision === null || recall === null) return null;
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}
