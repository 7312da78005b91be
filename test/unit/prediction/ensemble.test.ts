import { describe, expect, it } from 'vitest';
import { ensemblePredictions } from '../../../src/prediction/ensemble.js';

/** One member's N×K row-major output from its rows. */
const member = (...rows: number[][]) => new Float32Array(rows.flat());

const ABC = ['a', 'b', 'c'];
const YES_NO = ['yes', 'no'];

describe('ensemblePredictions: the mean prediction', () => {
  // Three members, two instances, three classes; every value is exact in float32.
  const members = [
    member([0.5, 0.25, 0.25], [0.125, 0.125, 0.75]),
    member([0.75, 0.125, 0.125], [0.25, 0.5, 0.25]),
    member([0.25, 0.5, 0.25], [0, 0.25, 0.75]),
  ];
  const [first, second] = ensemblePredictions(members, 2, ABC);

  it('gives each class the element-wise mean of the members’ probabilities', () => {
    expect(first.probabilities.a).toBeCloseTo(1.5 / 3, 12);
    expect(first.probabilities.b).toBeCloseTo(0.875 / 3, 12);
    expect(first.probabilities.c).toBeCloseTo(0.625 / 3, 12);
    expect(second.probabilities.a).toBeCloseTo(0.375 / 3, 12);
    expect(second.probabilities.b).toBeCloseTo(0.875 / 3, 12);
    expect(second.probabilities.c).toBeCloseTo(1.75 / 3, 12);
  });

  it('labels each instance with its most probable mean class, with that mean as confidence', () => {
    expect([first.label, first.labelIndex]).toEqual(['a', 0]);
    expect(first.confidence).toBeCloseTo(0.5, 12);
    expect([second.label, second.labelIndex]).toEqual(['c', 2]);
    expect(second.confidence).toBeCloseTo(1.75 / 3, 12);
  });

  it('counts the members whose own argmax is the label as agreement', () => {
    expect(first.uncertainty.agreement).toBeCloseTo(2 / 3, 12); // a, a, b
    expect(second.uncertainty.agreement).toBeCloseTo(2 / 3, 12); // c, b, c
  });

  it('takes the population standard deviation (÷M) of the chosen class across members', () => {
    // p(a) = 0.5, 0.75, 0.25 → deviations 0, ±0.25 → variance 0.125 / 3 (the sample estimate would be 0.25²).
    expect(first.uncertainty.memberStd).toBeCloseTo(Math.sqrt(0.125 / 3), 12);
  });

  it('splits predictive entropy into expected entropy plus mutual information', () => {
    for (const { uncertainty: u } of [first, second]) {
      expect(u.mutualInformation).toBeGreaterThan(0);
      expect(u.expectedEntropy + u.mutualInformation).toBeCloseTo(u.entropy, 12);
    }
  });

  it('breaks a tie between mean probabilities in favour of the lower class index', () => {
    const [tied] = ensemblePredictions([member([0.25, 0.375, 0.375])], 1, ABC);
    expect(tied.label).toBe('b');
  });
});

describe('ensemblePredictions: uncertainty', () => {
  it('reports no disagreement for a single member', () => {
    const [p] = ensemblePredictions([member([0.2, 0.3, 0.5])], 1, ABC);
    expect(p.uncertainty.mutualInformation).toBe(0);
    expect(p.uncertainty.memberStd).toBe(0);
    expect(p.uncertainty.agreement).toBe(1);
    expect(p.uncertainty.expectedEntropy).toBeCloseTo(p.uncertainty.entropy, 12);
  });

  it('reports no mutual information when the members agree exactly', () => {
    const row = [0.1, 0.6, 0.3];
    const [p] = ensemblePredictions([member(row), member(row), member(row)], 1, ABC);
    expect(p.uncertainty.mutualInformation).toBe(0);
    expect(p.uncertainty.memberStd).toBe(0);
    expect(p.uncertainty.entropy).toBeGreaterThan(0);
  });

  it('reads confident members that disagree as purely epistemic uncertainty', () => {
    const [p] = ensemblePredictions([member([1, 0]), member([0, 1])], 1, YES_NO);
    expect(p.uncertainty.entropy).toBeCloseTo(Math.LN2, 12);
    expect(p.uncertainty.expectedEntropy).toBe(0); // 0·ln 0 counts as 0
    expect(p.uncertainty.mutualInformation).toBeCloseTo(Math.LN2, 12);
    expect(p.uncertainty.agreement).toBe(0.5);
    expect(p.uncertainty.memberStd).toBeCloseTo(0.5, 12);
  });

  it('averages the members’ own entropies as the expected entropy', () => {
    const [p] = ensemblePredictions([member([1, 0]), member([0.5, 0.5])], 1, YES_NO);
    const meanEntropy = -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25));
    expect(p.uncertainty.expectedEntropy).toBeCloseTo(Math.LN2 / 2, 12);
    expect(p.uncertainty.entropy).toBeCloseTo(meanEntropy, 12);
    expect(p.uncertainty.mutualInformation).toBeCloseTo(meanEntropy - Math.LN2 / 2, 12);
  });

  it('gives a uniform prediction entropy ln K and normalised entropy 1', () => {
    const K = 4;
    const [p] = ensemblePredictions([member(Array(K).fill(1 / K))], 1, ['w', 'x', 'y', 'z']);
    expect(p.uncertainty.entropy).toBeCloseTo(Math.log(K), 12);
    expect(p.uncertainty.normalizedEntropy).toBeCloseTo(1, 12);
  });

  it('gives a certain prediction entropy 0 and normalised entropy 0', () => {
    const [p] = ensemblePredictions([member([0, 0, 1])], 1, ABC);
    expect(p.uncertainty.entropy).toBe(0);
    expect(p.uncertainty.normalizedEntropy).toBe(0);
  });
});

describe('ensemblePredictions: top classes', () => {
  it('lists the requested number of classes, most probable first, ties by class index', () => {
    const classes = ['w', 'x', 'y', 'z'];
    const [p] = ensemblePredictions([member([0.125, 0.375, 0.125, 0.375])], 1, classes, { topK: 3 });
    expect(p.topK).toEqual([
      { label: 'x', probability: 0.375 },
      { label: 'z', probability: 0.375 },
      { label: 'w', probability: 0.125 },
    ]);
  });

  it('leaves topK out when it is not asked for', () => {
    const [p] = ensemblePredictions([member([0.5, 0.5])], 1, YES_NO);
    expect(p).not.toHaveProperty('topK');
  });
});

describe('ensemblePredictions: validation', () => {
  const one = member([0.5, 0.5]);

  it('returns nothing for zero instances', () => {
    expect(ensemblePredictions([new Float32Array(0)], 0, YES_NO)).toEqual([]);
  });

  it.each([
    ['no members', () => ensemblePredictions([], 1, YES_NO), /at least one member/],
    ['one class', () => ensemblePredictions([new Float32Array([1])], 1, ['only']), /at least two/],
    ['repeated class names', () => ensemblePredictions([one], 1, ['a', 'a']), /distinct/],
    ['a fractional instance count', () => ensemblePredictions([one], 0.5, YES_NO), /numInstances/],
    ['a negative instance count', () => ensemblePredictions([one], -1, YES_NO), /numInstances/],
    ['a member of the wrong length', () => ensemblePredictions([one, member([1, 0], [0, 1])], 1, YES_NO), /member 1 holds 4 values; expected 1 instances × 2 classes = 2/],
    ['topK of 0', () => ensemblePredictions([one], 1, YES_NO, { topK: 0 }), /topK/],
    ['topK above the class count', () => ensemblePredictions([one], 1, YES_NO, { topK: 3 }), /topK must be an integer from 1 to 2/],
    ['a fractional topK', () => ensemblePredictions([one], 1, YES_NO, { topK: 1.5 }), /topK/],
  ])('throws a RangeError for %s', (_, call, message) => {
    expect(call).toThrow(RangeError);
    expect(call).toThrow(message);
  });
});
