import { describe, expect, it } from 'vitest';
import { chiSquareHomogeneity } from '../../../src/drift/chi-square.js';
import { categoricalCounts } from './samples.js';

const SAME = [0.1, 0.2, 0.3, 0.25, 0.15];
const SHIFTED = [0.2, 0.25, 0.2, 0.15, 0.2];

/** Share of `reps` seeded pairs of 300-sample count vectors whose p-value is below 0.05. */
function rejectionRate(reps: number, current: number[]): number {
  let rejected = 0;
  for (let r = 0; r < reps; r++) {
    const a = categoricalCounts(2000 + r, 300, SAME);
    const { pValue } = chiSquareHomogeneity(a, categoricalCounts(7000 + r, 300, current));
    if (pValue < 0.05) rejected++;
  }
  return rejected / reps;
}

describe('chi-square test of homogeneity', () => {
  it('sums (O − E)² / E over the 2×K table: 20/3 for 10, 20 against 20, 10', () => {
    // Every expected count is 15 and every deviation ±5: 4 × 25 / 15.
    const r = chiSquareHomogeneity([10, 20], [20, 10]);
    expect(r.statistic).toBeCloseTo(20 / 3, 14);
    expect(r.dof).toBe(1);
    // scipy.stats.chi2_contingency([[10, 20], [20, 10]], correction=False), SciPy 1.10.1.
    expect(r.pValue).toBeCloseTo(0.009823274507519235, 14);
  });

  it('gives statistic 0 and p = 1 for proportional samples', () => {
    const r = chiSquareHomogeneity([5, 10, 15], [10, 20, 30]);
    expect(r.statistic).toBeCloseTo(0, 14);
    expect(r.dof).toBe(2);
    expect(r.pValue).toBeCloseTo(1, 12);
  });

  it('drops categories empty in both samples, as SciPy needs them dropped', () => {
    // chi2_contingency([[5, 7, 3], [6, 2, 9]], correction=False) after removing the empty column, SciPy 1.10.1.
    const r = chiSquareHomogeneity([5, 0, 7, 3], [6, 0, 2, 9]);
    expect(r.statistic).toBeCloseTo(5.766211130917013, 12);
    expect(r.dof).toBe(2);
    expect(r.pValue).toBeCloseTo(0.05596070307054312, 12);
  });

  it('matches scipy.stats.chi2_contingency(correction=False) on a 2×5 table', () => {
    const r = chiSquareHomogeneity([120, 30, 55, 7, 88], [100, 41, 60, 15, 70]);
    expect(r.statistic).toBeCloseTo(8.369828549117024, 12);
    expect(r.dof).toBe(4);
    expect(r.pValue).toBeCloseTo(0.07893259912039112, 12);
  });

  it('reports no evidence (0, 0 dof, p = 1) with fewer than two occupied categories or an empty sample', () => {
    const none = { statistic: 0, dof: 0, pValue: 1 };
    expect(chiSquareHomogeneity([5, 0], [3, 0])).toEqual(none);
    expect(chiSquareHomogeneity([], [])).toEqual(none);
    expect(chiSquareHomogeneity([0, 0, 0], [4, 5, 6])).toEqual(none);
  });

  it('rejects at most about 5% of same-distribution pairs at α = 0.05', () => {
    expect(rejectionRate(200, SAME)).toBeLessThanOrEqual(0.08);
  });

  it('rejects nearly every pair after the category shares move', () => {
    expect(rejectionRate(200, SHIFTED)).toBeGreaterThanOrEqual(0.95);
  });

  it('rejects lengths that differ and negative or non-finite counts with a RangeError', () => {
    expect(() => chiSquareHomogeneity([1, 2], [1, 2, 3])).toThrow(RangeError);
    expect(() => chiSquareHomogeneity([1, -2], [1, 2])).toThrow(RangeError);
    expect(() => chiSquareHomogeneity([1, Number.NaN], [1, 2])).toThrow(RangeError);
  });
});
