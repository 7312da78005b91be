import { describe, expect, it } from 'vitest';
import { ksTwoSample } from '../../../src/drift/ks.js';
import { ksSurvival } from '../../../src/drift/special.js';
import { normalSample } from './samples.js';

/** Stephens-corrected asymptotic p-value, written out once more so the test pins the formula. */
function stephensP(d: number, n: number, m: number): number {
  const ne = Math.sqrt((n * m) / (n + m));
  return ksSurvival((ne + 0.12 + 0.11 / ne) * d);
}

/** Share of `reps` seeded repetitions whose p-value is below 0.05. */
function rejectionRate(reps: number, shift: number): number {
  let rejected = 0;
  for (let r = 0; r < reps; r++) {
    const { pValue } = ksTwoSample(normalSample(1000 + r, 50), normalSample(5000 + r, 60, shift));
    if (pValue < 0.05) rejected++;
  }
  return rejected / reps;
}

// References from SciPy 1.10.1. statistic: scipy.stats.ks_2samp(a, b, method='asymp').statistic. "stephens":
// scipy.stats.kstwobign.sf((√ne + 0.12 + 0.11/√ne) D). "scipy": ks_2samp(..., method='asymp').pvalue, which
// evaluates scipy.stats.kstwo at n = round(ne) instead of Stephens' correction, so it differs by a few percent.
// The generated samples were dumped as JSON from normalSample and read by the script.
const SCIPY = [
  { name: 'N(0,1)×60 vs N(0.3,1)×80', a: () => normalSample(11, 60), b: () => normalSample(12, 80, 0.3),
    statistic: 0.31666666666666665, stephens: 0.0014842161737472644, scipy: 0.001570622817827605 },
  { name: 'rounded, with many ties', a: () => normalSample(13, 40).map((v) => Math.round(2 * v)),
    b: () => normalSample(14, 50, 0.5).map((v) => Math.round(2 * v)),
    statistic: 0.29, stephens: 0.037801988964930935, scipy: 0.039243649153744675 },
];

describe('two-sample Kolmogorov–Smirnov test', () => {
  it('takes the largest ECDF gap: 0.5 for 1..4 against 3..6', () => {
    const r = ksTwoSample([1, 2, 3, 4], [3, 4, 5, 6]);
    expect(r.statistic).toBe(0.5);
    expect(r.pValue).toBeCloseTo(0.5344157192165071, 12); // kstwobign.sf of the corrected λ, from SciPy
  });

  it('steps both ECDFs past a tied value together', () => {
    // At 1: F_a = 2/3, F_b = 1/3; at 2 both reach 1. Stepping one sample at a time would report 2/3.
    const r = ksTwoSample([1, 1, 2], [1, 2, 2]);
    expect(r.statistic).toBeCloseTo(1 / 3, 15);
    expect(r.pValue).toBeCloseTo(0.9762126488644778, 12);
  });

  it('gives D = 0 and p = 1 for identical samples and D = 1 for disjoint ones', () => {
    expect(ksTwoSample([3, 1, 2, 2], [2, 3, 2, 1])).toEqual({ statistic: 0, pValue: 1 });
    const disjoint = ksTwoSample([1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 16]);
    expect(disjoint.statistic).toBe(1);
    expect(disjoint.pValue).toBeLessThan(0.001);
  });

  it('does not depend on input order or on which sample comes first', () => {
    const a = normalSample(1, 30);
    const b = normalSample(2, 45, 0.4);
    const r = ksTwoSample(a, b);
    expect(ksTwoSample(b, a)).toEqual(r);
    expect(ksTwoSample(Float64Array.from(a).reverse(), b)).toEqual(r);
  });

  for (const c of SCIPY) {
    it(`matches SciPy on ${c.name}: D exactly, Stephens' p to 1e-10, SciPy's own p within 10%`, () => {
      const a = c.a();
      const b = c.b();
      const r = ksTwoSample(a, b);
      expect(r.statistic).toBeCloseTo(c.statistic, 14);
      expect(Math.abs(r.pValue - c.stephens) / c.stephens).toBeLessThan(1e-10);
      expect(r.pValue).toBeCloseTo(stephensP(r.statistic, a.length, b.length), 15);
      expect(Math.abs(r.pValue - c.scipy) / c.scipy).toBeLessThan(0.1);
    });
  }

  it('rejects at most about 5% of same-distribution pairs at α = 0.05', () => {
    const rate = rejectionRate(200, 0);
    expect(rate).toBeLessThanOrEqual(0.08);
  });

  it('rejects nearly every pair after a one-standard-deviation shift', () => {
    expect(rejectionRate(200, 1)).toBeGreaterThanOrEqual(0.95);
  });

  it('rejects an empty sample or a NaN value with a RangeError', () => {
    expect(() => ksTwoSample([], [1, 2])).toThrow(RangeError);
    expect(() => ksTwoSample([1, 2], [])).toThrow(RangeError);
    expect(() => ksTwoSample([1, Number.NaN], [1, 2])).toThrow(RangeError);
  });
});
