/** Calibration: whether a model's confidence matches how often it is right. */
import { argmaxRows } from './metrics.js';

export interface CalibrationBin {
  lower: number;
  upper: number;
  count: number;
  /** Mean top-class probability of the samples in the bin; null when it is empty. */
  confidence: number | null;
  /** Share of the samples in the bin whose top class is the true class; null when it is empty. */
  accuracy: number | null;
}

/**
 * Reliability bins and calibration errors (Guo, Pleiss, Sun, Weinberger 2017, "On Calibration of Modern Neural
 * Networks", eq. 3 and §2): confidence is the top-class probability of each N×K row (ties → lowest index), bins
 * are [b/B, (b+1)/B) with a confidence of exactly 1 in the last bin, ECE = Σ_b (n_b / N) |acc_b − conf_b| and MCE
 * = max_b |acc_b − conf_b| over non-empty bins. Throws a RangeError when there are no samples, the shapes disagree,
 * a label is outside 0..K−1 or a confidence is not in [0, 1].
 */
export function calibration(
  probs: Float32Array,
  labels: ArrayLike<number>,
  numClasses: number,
  bins = 15,
): { ece: number; mce: number; bins: CalibrationBin[] } {
  const n = labels.length;
  const k = numClasses;
  if (!Number.isInteger(bins) || bins < 1) {
    throw new RangeError(`calibration: bins must be a positive integer, got ${bins}.`);
  }
  if (n === 0) throw new RangeError('calibration: no samples.');
  if (!Number.isInteger(k) || k < 1 || probs.length !== n * k) {
    throw new RangeError(`calibration: ${probs.length} probabilities for ${n} samples of ${k} classes.`);
  }

  const predicted = argmaxRows(probs, k);
  const counts = new Float64Array(bins);
  const confidenceSums = new Float64Array(bins);
  const correctCounts = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= k) {
      throw new RangeError(`calibration: label ${y} of sample ${i} is outside 0..${k - 1}.`);
    }
    const confidence = probs[i * k + predicted[i]];
    if (!(confidence >= 0 && confidence <= 1)) {
      throw new RangeError(`calibration: confidence ${confidence} of sample ${i} is not in [0, 1].`);
    }
    const b = Math.min(bins - 1, Math.floor(confidence * bins));
    counts[b]++;
    confidenceSums[b] += confidence;
    if (predicted[i] === y) correctCounts[b]++;
  }

  let ece = 0;
  let mce = 0;
  const out: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    const count = counts[b];
    const confidence = count > 0 ? confidenceSums[b] / count : null;
    const accuracy = count > 0 ? correctCounts[b] / count : null;
    if (confidence !== null && accuracy !== null) {
      const gap = Math.abs(accuracy - confidence);
      ece += (count / n) * gap;
      mce = Math.max(mce, gap);
    }
    out.push({ lower: b / bins, upper: (b + 1) / bins, count, confidence, accuracy });
  }
  return { ece, mce, bins: out };
}
