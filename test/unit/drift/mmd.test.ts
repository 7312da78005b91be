import { describe, expect, it } from 'vitest';
import { mmdPermutationTest } from '../../../src/drift/mmd.js';
import { normalSample } from './samples.js';

const f32 = (values: ArrayLike<number>) => Float32Array.from(values);

/** Share of `reps` seeded pairs of 40 × 4 samples whose 100-permutation p-value is below 0.05. */
function rejectionRate(reps: number, shift: number): number {
  let rejected = 0;
  for (let r = 0; r < reps; r++) {
    const x = f32(normalSample(3000 + r, 40 * 4));
    const y = f32(normalSample(8000 + r, 40 * 4, shift));
    if (mmdPermutationTest(x, y, 4, { seed: r, permutations: 100 }).pValue < 0.05) rejected++;
  }
  return rejected / reps;
}

describe('MMD permutation test', () => {
  it('computes the unbiased MMD² by hand for {0, 1} against {2, 3} with σ = 1', () => {
    // Within-sample pairs are 1 apart: k = e^{−1/2} for both. Cross pairs are 1, 2, 2 and 3 apart.
    const within = Math.exp(-0.5);
    const cross = (Math.exp(-0.5) + 2 * Math.exp(-2) + Math.exp(-4.5)) / 4;
    const r = mmdPermutationTest(f32([0, 1]), f32([2, 3]), 1, { seed: 1, bandwidth: 1 });
    expect(r.statistic).toBeCloseTo(within + within - 2 * cross, 14);
    expect(r.bandwidth).toBe(1);
  });

  it('takes σ as the median pairwise distance of the pooled sample', () => {
    // Distances among 0, 1, 2, 3 are 1, 1, 1, 2, 2, 3: the median is 1.5.
    expect(mmdPermutationTest(f32([0, 1]), f32([2, 3]), 1, { seed: 1 }).bandwidth).toBe(1.5);
  });

  it('matches a NumPy computation of σ and MMD² on 30 × 3 against 40 × 3 Gaussian rows', () => {
    // NumPy 1.24 / SciPy 1.10.1 on the same float32 values: σ = median(scipy.spatial.distance.pdist(vstack(X, Y))),
    // MMD² = (ΣKxx − tr)/(n(n−1)) + (ΣKyy − tr)/(m(m−1)) − 2 mean(Kxy).
    const x = f32(normalSample(21, 90));
    const y = f32(normalSample(22, 120, 0.4));
    const median = mmdPermutationTest(x, y, 3, { seed: 1, permutations: 10 });
    expect(median.bandwidth).toBeCloseTo(2.01094383636075, 12);
    expect(median.statistic).toBeCloseTo(0.0223296000519404, 13);
    expect(mmdPermutationTest(x, y, 3, { seed: 1, permutations: 10, bandwidth: 2 }).statistic).toBeCloseTo(
      0.0223407993531457,
      13,
    );
  });

  it('never returns p = 0: a clear shift gives exactly 1 / (1 + permutations)', () => {
    const x = f32(normalSample(4, 30 * 2));
    const y = f32(normalSample(5, 30 * 2, 3));
    const r = mmdPermutationTest(x, y, 2, { seed: 9, permutations: 50 });
    expect(r.pValue).toBe(1 / 51);
    expect(r.permutations).toBe(50);
  });

  it('gives the same result for the same seed', () => {
    const x = f32(normalSample(6, 25 * 3));
    const y = f32(normalSample(7, 20 * 3, 0.2));
    expect(mmdPermutationTest(x, y, 3, { seed: 11 })).toEqual(mmdPermutationTest(x, y, 3, { seed: 11 }));
  });

  it('counts permuted statistics equal to the observed one: identical points give MMD² 0 and p = 1', () => {
    const same = new Float32Array(8).fill(2);
    const r = mmdPermutationTest(same, same.subarray(0, 6), 2, { seed: 1, permutations: 20 });
    expect(r.statistic).toBeCloseTo(0, 14);
    expect(r.bandwidth).toBe(1);
    expect(r.pValue).toBe(1);
  });

  it('counts relabellings that give back the observed split despite rounding: 3 + 3 points give p ≈ 2/20', () => {
    // Of the 20 ways to split six points into 3 + 3, two (the observed split and its mirror) give the observed
    // MMD², which here is the largest; summed in another order they can differ from it in the last bits.
    for (const seed of [1, 3, 5]) {
      const x = f32(normalSample(seed, 3 * 2));
      const y = f32(normalSample(seed + 100, 3 * 2, 3));
      const { pValue } = mmdPermutationTest(x, y, 2, { seed, permutations: 2000 });
      expect(pValue).toBeGreaterThan(0.08);
      expect(pValue).toBeLessThan(0.12);
    }
  });

  it('rejects at most about 5% of same-distribution pairs at α = 0.05', () => {
    expect(rejectionRate(200, 0)).toBeLessThanOrEqual(0.08);
  });

  it('rejects nearly every pair after a one-standard-deviation shift in every coordinate', () => {
    expect(rejectionRate(20, 1)).toBeGreaterThanOrEqual(0.95);
  });

  it('runs 500 + 500 rows of dimension 128 with 200 permutations in well under 2 s', () => {
    const x = f32(normalSample(1, 500 * 128));
    const y = f32(normalSample(2, 500 * 128));
    const start = performance.now();
    const r = mmdPermutationTest(x, y, 128, { seed: 3 });
    expect(performance.now() - start).toBeLessThan(2000);
    expect(r.permutations).toBe(200);
  });

  it('rejects fewer than two rows, dim < 1, lengths that are not whole rows and NaN with a RangeError', () => {
    const two = f32([0, 1, 2, 3]);
    expect(() => mmdPermutationTest(f32([0, 1]), two, 2, { seed: 1 })).toThrow(RangeError);
    expect(() => mmdPermutationTest(two, f32([0, 1]), 2, { seed: 1 })).toThrow(RangeError);
    expect(() => mmdPermutationTest(two, two, 0, { seed: 1 })).toThrow(RangeError);
    expect(() => mmdPermutationTest(f32([0, 1, 2, 3, 4]), two, 2, { seed: 1 })).toThrow(RangeError);
    expect(() => mmdPermutationTest(f32([0, 1, Number.NaN, 3]), two, 2, { seed: 1 })).toThrow(RangeError);
  });
});
