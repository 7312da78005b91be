import { describe, expect, it } from 'vitest';
import { standardizedMeanDifference } from '../../../src/drift/effect-size.js';
import { normalSample } from './samples.js';

describe('standardized mean difference', () => {
  it('divides the shift in means by the pooled standard deviation: 2 for 1, 2, 3 → 3, 4, 5', () => {
    // Both sample variances are 1, so the pooled standard deviation is 1 and the means differ by 2.
    expect(standardizedMeanDifference([1, 2, 3], [3, 4, 5])).toBeCloseTo(2, 15);
    expect(standardizedMeanDifference([3, 4, 5], [1, 2, 3])).toBeCloseTo(-2, 15);
  });

  it('weights each sample variance by its degrees of freedom', () => {
    // ref: mean 1, Σ(x − x̄)² = 2; cur: mean 4, Σ(x − x̄)² = 8; s_pooled² = (2 + 8) / (3 + 5 − 2) = 10 / 6.
    const d = standardizedMeanDifference([0, 1, 2], [2, 4, 4, 4, 6]);
    expect(d).toBeCloseTo(3 / Math.sqrt(10 / 6), 14);
  });

  it('matches a NumPy computation on seeded Gaussian samples', () => {
    // NumPy 1.24: (b.mean() − a.mean()) / sqrt(((na−1) a.var(ddof=1) + (nb−1) b.var(ddof=1)) / (na + nb − 2)).
    const d = standardizedMeanDifference(normalSample(41, 30), normalSample(42, 45, 0.7, 2));
    expect(d).toBeCloseTo(0.5638584516786376, 13);
  });

  it('is 0 when both samples are constant, even if their values differ, and for one value each', () => {
    expect(standardizedMeanDifference([2, 2, 2], [5, 5])).toBe(0);
    expect(standardizedMeanDifference([1], [4])).toBe(0);
  });

  it('rejects an empty sample with a RangeError', () => {
    expect(() => standardizedMeanDifference([], [1, 2])).toThrow(RangeError);
    expect(() => standardizedMeanDifference([1, 2], [])).toThrow(RangeError);
  });
});
