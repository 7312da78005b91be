import { describe, expect, it } from 'vitest';
import { createRng } from '../../../src/data/random.js';
import { estimateLabelShift } from '../../../src/drift/bbse.js';
import { categorical } from './samples.js';

/** `n` labels drawn with `priors` and predictions right with probability `accuracy`, errors spread evenly. */
function simulate(seed: number, n: number, priors: number[], accuracy: number) {
  const rng = createRng(seed);
  const k = priors.length;
  const labels: number[] = [];
  const predicted: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = categorical(rng, priors);
    labels.push(y);
    predicted.push(rng() < accuracy ? y : (y + 1 + Math.floor(rng() * (k - 1))) % k);
  }
  return { labels, predicted };
}

const repeat = (counts: [number, number][]) => counts.flatMap(([value, times]) => new Array<number>(times).fill(value));

describe('black-box shift estimation', () => {
  it('recovers current priors within 0.05 from a classifier that is right 80% of the time', () => {
    const ref = simulate(1, 4000, [0.5, 0.3, 0.2], 0.8);
    const cur = simulate(2, 4000, [0.2, 0.3, 0.5], 0.8);
    const r = estimateLabelShift({
      refPredicted: ref.predicted,
      refLabels: ref.labels,
      curPredicted: cur.predicted,
      numClasses: 3,
    });
    [0.2, 0.3, 0.5].forEach((q, j) => expect(Math.abs(r.estimatedPriors[j] - q)).toBeLessThan(0.05));
    [0.5, 0.3, 0.2].forEach((p, j) => expect(Math.abs(r.referencePriors[j] - p)).toBeLessThan(0.03));
    r.weights.forEach((w, j) => expect(w).toBeCloseTo(r.estimatedPriors[j] / r.referencePriors[j], 12));
  });

  it('returns the reference priors and unit weights when the current predictions are the reference ones', () => {
    const ref = simulate(3, 500, [0.6, 0.25, 0.15], 0.7);
    const r = estimateLabelShift({
      refPredicted: ref.predicted,
      refLabels: ref.labels,
      curPredicted: ref.predicted,
      numClasses: 3,
    });
    r.estimatedPriors.forEach((q, j) => expect(q).toBeCloseTo(r.referencePriors[j], 12));
    r.weights.forEach((w) => expect(w).toBeCloseTo(1, 12));
  });

  it('solves Ĉ w = μ̂ by hand for a 2-class confusion [[0.4, 0.1], [0.1, 0.4]] and μ̂ = [0.3, 0.7]', () => {
    // 0.4 w₀ + 0.1 w₁ = 0.3 and 0.1 w₀ + 0.4 w₁ = 0.7 give w = (1/3, 5/3); p = (½, ½) so q = (1/6, 5/6).
    const r = estimateLabelShift({
      refLabels: repeat([[0, 5], [1, 5]]),
      refPredicted: repeat([[0, 4], [1, 1], [0, 1], [1, 4]]),
      curPredicted: repeat([[0, 3], [1, 7]]),
      numClasses: 2,
    });
    expect(r.referencePriors).toEqual([0.5, 0.5]);
    expect(r.estimatedPriors[0]).toBeCloseTo(1 / 6, 14);
    expect(r.estimatedPriors[1]).toBeCloseTo(5 / 6, 14);
    expect(r.weights[0]).toBeCloseTo(1 / 3, 14);
    expect(r.weights[1]).toBeCloseTo(5 / 3, 14);
  });

  it('matches numpy.linalg.solve on a 3-class reference of 20 samples', () => {
    // NumPy 1.24: w = solve(C, mu), q = clip(w, 0) * p / Σ; C is well-conditioned (1-norm condition 4.5).
    const r = estimateLabelShift({
      refLabels: [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2],
      refPredicted: [0, 0, 0, 0, 1, 2, 1, 1, 1, 0, 2, 2, 2, 2, 2, 2, 2, 1, 0, 2],
      curPredicted: [0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2],
      numClasses: 3,
    });
    const q = [0.15277777777777776, 0.6076388888888888, 0.23958333333333331];
    const w = [0.5092592592592592, 2.4305555555555554, 0.5324074074074073];
    [0.3, 0.25, 0.45].forEach((p, j) => expect(r.referencePriors[j]).toBeCloseTo(p, 15));
    q.forEach((v, j) => expect(r.estimatedPriors[j]).toBeCloseTo(v, 13));
    w.forEach((v, j) => expect(r.weights[j]).toBeCloseTo(v, 13));
  });

  it('gives the predicted shares of the current sample for a perfect classifier', () => {
    const labels = repeat([[0, 30], [1, 50], [2, 20]]);
    const curPredicted = repeat([[0, 10], [1, 10], [2, 30]]);
    const r = estimateLabelShift({ refLabels: labels, refPredicted: labels, curPredicted, numClasses: 3 });
    [0.2, 0.2, 0.6].forEach((q, j) => expect(r.estimatedPriors[j]).toBeCloseTo(q, 13));
  });

  it('clips a negative weight to 0 and renormalises the rest', () => {
    // Same confusion as the hand case with μ̂ = (0.05, 0.95): w = (−0.5, 2.5) → (0, 2.5), q = (0, 1).
    const r = estimateLabelShift({
      refLabels: repeat([[0, 5], [1, 5]]),
      refPredicted: repeat([[0, 4], [1, 1], [0, 1], [1, 4]]),
      curPredicted: repeat([[0, 1], [1, 19]]),
      numClasses: 2,
    });
    expect(r.estimatedPriors).toEqual([0, 1]);
    expect(r.weights).toEqual([0, 2]);
  });

  it('gives a class absent from the reference weight 1 and prior 0, solving for the rest by least squares', () => {
    // Perfect on classes 0 and 1 (half each); the current sample's class-2 predictions cannot be explained,
    // and 0 and 1 keep their 1 : 2 ratio.
    const r = estimateLabelShift({
      refLabels: [0, 0, 1, 1],
      refPredicted: [0, 0, 1, 1],
      curPredicted: [0, 0, 1, 1, 1, 1, 2, 2],
      numClasses: 3,
    });
    expect(r.referencePriors).toEqual([0.5, 0.5, 0]);
    expect(r.estimatedPriors[0]).toBeCloseTo(1 / 3, 6);
    expect(r.estimatedPriors[1]).toBeCloseTo(2 / 3, 6);
    expect(r.estimatedPriors[2]).toBe(0);
    expect(r.weights[2]).toBe(1);
  });

  it('falls back to the ridge solve for a singular confusion and still returns priors that sum to 1', () => {
    // A classifier that always predicts class 0 makes Ĉ rank one.
    const r = estimateLabelShift({
      refLabels: [0, 0, 1, 1, 1],
      refPredicted: [0, 0, 0, 0, 0],
      curPredicted: [0, 0],
      numClasses: 2,
    });
    r.estimatedPriors.forEach((q) => expect(Number.isFinite(q) && q >= 0).toBe(true));
    expect(r.estimatedPriors[0] + r.estimatedPriors[1]).toBeCloseTo(1, 14);
  });

  it('rejects empty samples, mismatched lengths and classes outside 0..K−1 with a RangeError', () => {
    const bad = (refLabels: number[], refPredicted: number[], curPredicted: number[]) => () =>
      estimateLabelShift({ refLabels, refPredicted, curPredicted, numClasses: 2 });
    expect(bad([], [], [0])).toThrow(RangeError);
    expect(bad([0], [0], [])).toThrow(RangeError);
    expect(bad([0, 1], [0], [0])).toThrow(RangeError);
    expect(bad([0, 2], [0, 1], [0])).toThrow(RangeError);
    expect(bad([0, 1], [0, 1], [0.5])).toThrow(RangeError);
  });
});
