import { describe, expect, it } from 'vitest';
import { argmaxRows, classificationMetrics } from '../../../src/evaluation/metrics.js';
import { randomPredictions } from './samples.js';

const f32 = (rows: number[][]) => Float32Array.from(rows.flat());
const ln = (p: number) => Math.log(Math.fround(p));

describe('argmaxRows', () => {
  it('picks the largest value of each row and the lowest index on a tie', () => {
    expect(Array.from(argmaxRows(f32([[0.1, 0.7, 0.2], [0.4, 0.2, 0.4], [0.3, 0.3, 0.3]]), 3))).toEqual([1, 0, 0]);
  });

  it('rejects a length that is not whole rows', () => {
    expect(() => argmaxRows(new Float32Array(5), 2)).toThrow(RangeError);
    expect(() => argmaxRows(new Float32Array(4), 0)).toThrow(RangeError);
  });
});

describe('classification metrics', () => {
  it('scores a hand-made case with a tie and a class that neither occurs nor is predicted', () => {
    const probs = f32([
      [0.7, 0.2, 0.1], // a, predicted a
      [0.4, 0.4, 0.2], // b, tie → predicted a
      [0.1, 0.6, 0.3], // b, predicted b
      [0.3, 0.5, 0.2], // a, predicted b
    ]);
    const m = classificationMetrics(probs, [0, 1, 1, 0], ['a', 'b', 'c']);
    expect(m.samples).toBe(4);
    expect(m.accuracy).toBe(0.5);
    expect(m.nll).toBeCloseTo(-(ln(0.7) + ln(0.4) + ln(0.6) + ln(0.3)) / 4, 14);
    expect(m.confusion).toEqual([
      [1, 1, 0],
      [1, 1, 0],
      [0, 0, 0],
    ]);
    expect(m.perClass).toEqual([
      { class: 'a', precision: 0.5, recall: 0.5, f1: 0.5, support: 2 },
      { class: 'b', precision: 0.5, recall: 0.5, f1: 0.5, support: 2 },
      { class: 'c', precision: null, recall: null, f1: null, support: 0 },
    ]);
    expect(m.macroF1).toBe(0.5); // c is left out, not counted as 0
  });

  it('gives a class that has samples but is never predicted a null precision and F1, and skips it in macro-F1', () => {
    const m = classificationMetrics(f32([[0.9, 0.1], [0.8, 0.2]]), [0, 1], ['x', 'y']);
    expect(m.perClass[0]).toEqual({ class: 'x', precision: 0.5, recall: 1, f1: expect.closeTo(2 / 3, 15), support: 1 });
    expect(m.perClass[1]).toEqual({ class: 'y', precision: null, recall: 0, f1: null, support: 1 });
    expect(m.macroF1).toBeCloseTo(2 / 3, 15);
  });

  it('gives F1 = 0 when precision and recall are both 0', () => {
    const m = classificationMetrics(f32([[0.2, 0.8], [0.7, 0.3]]), [0, 1], ['x', 'y']);
    expect(m.perClass.map((c) => c.f1)).toEqual([0, 0]);
    expect(m.macroF1).toBe(0);
    expect(m.accuracy).toBe(0);
  });

  it('reports macro-F1 0 when every per-class F1 is null', () => {
    const m = classificationMetrics(f32([[0.1, 0.9], [0.2, 0.8]]), [0, 0], ['x', 'y']);
    expect(m.perClass.map((c) => c.f1)).toEqual([null, null]);
    expect(m.macroF1).toBe(0);
  });

  it('caps the loss of a zero probability on the true class at ln(1e12)', () => {
    const m = classificationMetrics(f32([[1, 0]]), [1], ['x', 'y']);
    expect(m.nll).toBeCloseTo(Math.log(1e12), 12);
  });

  it('matches a NumPy computation on 40 seeded 3-class predictions', () => {
    // NumPy 1.24 on the same float32 probabilities: argmax, −log p_true, confusion, per-class precision/recall/F1.
    const { probs, labels } = randomPredictions(61, 40, 3);
    const m = classificationMetrics(probs, labels, ['a', 'b', 'c']);
    expect(m.accuracy).toBe(0.45);
    expect(m.nll).toBeCloseTo(1.7870870377000951, 13);
    expect(m.confusion).toEqual([
      [7, 4, 1],
      [1, 8, 5],
      [7, 4, 3],
    ]);
    const want = {
      precision: [0.4666666666666667, 0.5, 0.3333333333333333],
      recall: [0.5833333333333334, 0.5714285714285714, 0.21428571428571427],
      f1: [0.5185185185185186, 0.5333333333333333, 0.2608695652173913],
    };
    m.perClass.forEach((c, k) => {
      expect(c.precision).toBeCloseTo(want.precision[k], 15);
      expect(c.recall).toBeCloseTo(want.recall[k], 15);
      expect(c.f1).toBeCloseTo(want.f1[k], 15);
    });
    expect(m.perClass.map((c) => c.support)).toEqual([12, 14, 14]);
    expect(m.macroF1).toBeCloseTo(0.43757380568974774, 15);
  });

  it('rejects no samples, a probability matrix of the wrong size and labels outside 0..K−1', () => {
    expect(() => classificationMetrics(new Float32Array(0), [], ['x', 'y'])).toThrow(RangeError);
    expect(() => classificationMetrics(new Float32Array(3), [0], ['x', 'y'])).toThrow(RangeError);
    expect(() => classificationMetrics(f32([[0.5, 0.5]]), [2], ['x', 'y'])).toThrow(RangeError);
  });
});
