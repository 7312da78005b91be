import { describe, expect, it } from 'vitest';
import { ksSurvival, logGamma, regularizedGammaQ } from '../../../src/drift/special.js';

// Reference values from SciPy 1.10.1: scipy.special.gammaln, scipy.special.gammaincc, scipy.stats.kstwobign.sf.
const GAMMALN: [number, number][] = [
  [0.5, 0.5723649429247],
  [3.7, 1.428072326665388],
  [10, 12.801827480081469],
  [100.25, 360.28455963776423],
  [1e-3, 6.907178885383853],
  [-2.5, -0.05624371649767401],
  [171.3, 708.1149470389971],
];
const GAMMAINCC: [number, number, number][] = [
  [0.5, 0.1, 0.6547208460185768],
  [2, 3, 0.1991482734714558],
  [3, 2.5, 0.5438131158833297],
  [10, 3, 0.9988975118698845],
  [10, 15, 0.06985366069940986],
  [50, 40, 0.9296649333406051],
  [0.5, 30, 9.485737571073857e-15],
  [100, 120, 0.027863739890520652],
  [2.5, 2.5, 0.4158801869955079],
  [4.5, 3.5, 0.6371194071693984], // x < s + 1: series
  [4.5, 3.6, 0.6163052249833654], // x > s + 1: continued fraction
];
const KSTWOBIGN_SF: [number, number][] = [
  [0.2, 0.999999999999495],
  [0.5, 0.9639452436648751],
  [0.8, 0.5441424115741981],
  [1.0, 0.26999967167735456],
  [1.17, 0.12939004218561884], // just below the switch between the two series
  [1.19, 0.11774229287977166], // just above it
  [2, 0.0006709252557796953],
  [3, 3.045995948942526e-8],
];

const relativeError = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);

describe('logGamma', () => {
  it('is ln of the factorial at integers: 0 at 1 and 2, ln 24 at 5', () => {
    expect(logGamma(1)).toBeCloseTo(0, 14);
    expect(logGamma(2)).toBeCloseTo(0, 14);
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 13);
  });

  it('gives ln √π at one half', () => {
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 14);
  });

  it('matches scipy.special.gammaln to 1e-13 relative, including the reflected negative arguments', () => {
    for (const [x, want] of GAMMALN) expect(relativeError(logGamma(x), want), `x=${x}`).toBeLessThan(1e-13);
  });

  it('is infinite at the poles 0 and −3', () => {
    expect(logGamma(0)).toBe(Infinity);
    expect(logGamma(-3)).toBe(Infinity);
  });
});

describe('regularizedGammaQ', () => {
  it('is e^−x for s = 1 and e^−x (1 + x) for s = 2', () => {
    for (const x of [0.3, 2, 7.5]) {
      expect(regularizedGammaQ(1, x)).toBeCloseTo(Math.exp(-x), 14);
      expect(regularizedGammaQ(2, x)).toBeCloseTo(Math.exp(-x) * (1 + x), 14);
    }
  });

  it('is 1 at x = 0 and 0 at x = ∞', () => {
    expect(regularizedGammaQ(3, 0)).toBe(1);
    expect(regularizedGammaQ(3, Infinity)).toBe(0);
  });

  it('matches scipy.special.gammaincc to 1e-11 relative on both sides of x = s + 1', () => {
    for (const [s, x, want] of GAMMAINCC) {
      expect(relativeError(regularizedGammaQ(s, x), want), `s=${s} x=${x}`).toBeLessThan(1e-11);
    }
  });

  it('rejects a non-positive shape or a negative x', () => {
    expect(() => regularizedGammaQ(0, 1)).toThrow(RangeError);
    expect(() => regularizedGammaQ(1, -1)).toThrow(RangeError);
    expect(() => regularizedGammaQ(Number.NaN, 1)).toThrow(RangeError);
  });
});

describe('ksSurvival', () => {
  it('is 1 at λ ≤ 0 and about 0.05 at the classic 5% critical value 1.358', () => {
    expect(ksSurvival(0)).toBe(1);
    expect(ksSurvival(-1)).toBe(1);
    expect(ksSurvival(1.358)).toBeCloseTo(0.05, 3);
  });

  it('equals the first terms of 2 Σ (−1)^(j−1) e^(−2j²λ²) at λ = 2, where they dominate', () => {
    const x = Math.exp(-8);
    expect(ksSurvival(2)).toBeCloseTo(2 * (x - x ** 4 + x ** 9), 15);
  });

  it('matches scipy.stats.kstwobign.sf to 1e-12 relative on both series', () => {
    for (const [l, want] of KSTWOBIGN_SF) expect(relativeError(ksSurvival(l), want), `λ=${l}`).toBeLessThan(1e-12);
  });

  it('decreases in λ across the switch between the two series', () => {
    let last = 1;
    for (let l = 0.05; l < 3; l += 0.01) {
      const p = ksSurvival(l);
      expect(p).toBeLessThanOrEqual(last);
      last = p;
    }
  });
});
