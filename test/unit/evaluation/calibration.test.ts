import { describe, expect, it } from 'vitest';
import { calibration } from '../../../src/evaluation/calibration.js';
import { randomPredictions } from './samples.js';

const f32 = (rows: number[][]) => Float32Array.from(rows.flat());
const fr = Math.fround;

describe('calibration', () => {
  it('bins top-class confidences and weighs each bin gap by its share of samples', () => {
    // Four bins of width 0.25. Bin [0.5, 0.75): confidences 0.6 ✓, 0.7 ✓, 0.55 ✗; bin [0.75, 1]: 0.9 ✓, 0.8 ✗.
    const probs = f32([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.55, 0.45]]);
    const c = calibration(probs, [0, 1, 0, 1, 1], 2, 4);
    const low = (fr(0.6) + fr(0.7) + fr(0.55)) / 3;
    const high = (fr(0.9) + fr(0.8)) / 2;
    expect(c.bins.map((b) => b.count)).toEqual([0, 0, 3, 2]);
    expect(c.bins[0]).toEqual({ lower: 0, upper: 0.25, count: 0, confidence: null, accuracy: null });
    expect(c.bins[2].confidence).toBeCloseTo(low, 15);
    expect(c.bins[2].accuracy).toBeCloseTo(2 / 3, 15);
    expect(c.bins[3].confidence).toBeCloseTo(high, 15);
    expect(c.bins[3].accuracy).toBe(0.5);
    expect(c.ece).toBeCloseTo((3 / 5) * Math.abs(2 / 3 - low) + (2 / 5) * Math.abs(0.5 - high), 14);
    expect(c.mce).toBeCloseTo(Math.max(Math.abs(2 / 3 - low), Math.abs(0.5 - high)), 14);
  });

  it('puts a confidence of exactly 1 in the last bin', () => {
    const c = calibration(f32([[1, 0], [0, 1]]), [0, 1], 2);
    expect(c.bins).toHaveLength(15);
    expect(c.bins[14]).toEqual({ lower: 14 / 15, upper: 1, count: 2, confidence: 1, accuracy: 1 });
    expect(c.ece).toBe(0);
    expect(c.mce).toBe(0);
  });

  it('takes the lowest index on a tie, so a tied wrong class counts as a miss', () => {
    const c = calibration(f32([[0.5, 0.5]]), [1], 2, 2);
    expect(c.bins[1]).toEqual({ lower: 0.5, upper: 1, count: 1, confidence: 0.5, accuracy: 0 });
    expect(c.ece).toBe(0.5);
  });

  it('matches a NumPy computation on 40 seeded 3-class predictions with 5 bins', () => {
    // NumPy 1.24 on the same float32 values: bin = min(floor(conf × 5), 4), ECE = Σ n_b/N |acc_b − conf_b|.
    const { probs, labels } = randomPredictions(61, 40, 3);
    const c = calibration(probs, labels, 3, 5);
    expect(c.bins.map((b) => b.count)).toEqual([0, 0, 10, 14, 16]);
    expect(c.bins[2].confidence).toBeCloseTo(0.5365137100219727, 14);
    expect(c.bins[2].accuracy).toBeCloseTo(0.7, 15);
    expect(c.bins[3].confidence).toBeCloseTo(0.7100511235850198, 14);
    expect(c.bins[4].confidence).toBeCloseTo(0.9207710959017277, 14);
    expect(c.bins[4].accuracy).toBe(0.3125);
    expect(c.ece).toBeCloseTo(0.38269790410995486, 14);
    expect(c.mce).toBeCloseTo(0.6082710959017277, 14);
  });

  it('rejects no samples, the wrong matrix size, a bad label, a confidence above 1 and bins < 1', () => {
    expect(() => calibration(new Float32Array(0), [], 2)).toThrow(RangeError);
    expect(() => calibration(new Float32Array(3), [0], 2)).toThrow(RangeError);
    expect(() => calibration(f32([[0.5, 0.5]]), [3], 2)).toThrow(RangeError);
    expect(() => calibration(f32([[1.5, 0]]), [0], 2)).toThrow(RangeError);
    expect(() => calibration(f32([[1, 0]]), [0], 2, 0)).toThrow(RangeError);
  });
});
