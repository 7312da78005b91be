/** Seeded model outputs shared by the evaluation tests, so the NumPy reference script can regenerate them. */
import { createRng } from '../../../src/data/random.js';

/** n rows of k probabilities (a softmax of logits uniform on [−3, 3)), row-major, and labels uniform on 0..k−1. */
export function randomPredictions(seed: number, n: number, k: number): { probs: Float32Array; labels: Int32Array } {
  const rng = createRng(seed);
  const probs = new Float32Array(n * k);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const e = Array.from({ length: k }, () => Math.exp(6 * rng() - 3));
    const sum = e.reduce((s, v) => s + v, 0);
    e.forEach((v, c) => (probs[i * k + c] = v / sum));
    labels[i] = Math.floor(rng() * k);
  }
  return { probs, labels };
}
