import { describe, expect, it } from 'vitest';
import { BadRequest } from '../../src/errors.js';
import { SPLITS, stratifiedSplit, type SplitFractions } from '../../src/data/split.js';

const FRACTIONS: SplitFractions = { train: 0.7, val: 0.15, test: 0.15 };

/** Labels with `sizes[c]` samples of class c, interleaved so classes are not contiguous. */
function labelsWithSizes(sizes: number[]): number[] {
  const labels: number[] = [];
  const left = [...sizes];
  while (left.some((n) => n > 0)) {
    for (let c = 0; c < left.length; c++) {
      if (left[c] > 0) {
        labels.push(c);
        left[c]--;
      }
    }
  }
  return labels;
}

/** counts[c][s]: samples of class c in split s. */
function countsByClass(labels: number[], codes: Uint8Array, numClasses: number): number[][] {
  const counts = Array.from({ length: numClasses }, () => [0, 0, 0]);
  labels.forEach((y, i) => counts[y][codes[i]]++);
  return counts;
}

function expectWithinOneOfShare(counts: number[][], sizes: number[], f: SplitFractions): void {
  const share = [f.train, f.val, f.test];
  counts.forEach((perSplit, c) => {
    perSplit.forEach((n, s) => {
      expect(n).toBeGreaterThanOrEqual(Math.floor(sizes[c] * share[s] - 1e-9));
      expect(n).toBeLessThanOrEqual(Math.ceil(sizes[c] * share[s] + 1e-9));
    });
  });
}

describe('stratified split', () => {
  it('names the splits in code order', () => {
    expect(SPLITS).toEqual(['train', 'val', 'test']);
  });

  it('keeps each class within one sample of its share in every split', () => {
    const sizes = Array.from({ length: 10 }, (_, c) => 100 + 37 * c);
    const labels = labelsWithSizes(sizes);
    const codes = stratifiedSplit(labels, 10, FRACTIONS, 42);
    expect(codes).toHaveLength(labels.length);
    expectWithinOneOfShare(countsByClass(labels, codes, 10), sizes, FRACTIONS);
  });

  it('keeps the split totals within one sample of their shares', () => {
    const sizes = Array.from({ length: 20 }, () => 10); // every class rounds the same way
    const labels = labelsWithSizes(sizes);
    const codes = stratifiedSplit(labels, 20, FRACTIONS, 1);
    const totals = [0, 0, 0];
    for (const s of codes) totals[s]++;
    expect(Math.abs(totals[0] - 140)).toBeLessThanOrEqual(1);
    expect(Math.abs(totals[1] - 30)).toBeLessThanOrEqual(1);
    expect(Math.abs(totals[2] - 30)).toBeLessThanOrEqual(1);
  });

  it('is deterministic for the same seed', () => {
    const labels = labelsWithSizes([50, 60, 70]);
    expect(stratifiedSplit(labels, 3, FRACTIONS, 7)).toEqual(stratifiedSplit(labels, 3, FRACTIONS, 7));
  });

  it('assigns different samples for different seeds', () => {
    const labels = labelsWithSizes([50, 60, 70]);
    const a = stratifiedSplit(labels, 3, FRACTIONS, 7);
    const b = stratifiedSplit(labels, 3, FRACTIONS, 8);
    expect(a).not.toEqual(b);
    expect(countsByClass(labels, a, 3)).toEqual(countsByClass(labels, b, 3));
  });

  it('rejects fractions that do not add up to 1 as a BadRequest on the split field', () => {
    const labels = labelsWithSizes([10, 10]);
    for (const bad of [
      { train: 0.7, val: 0.1, test: 0.1 },
      { train: 1.1, val: -0.05, test: -0.05 },
      { train: Number.NaN, val: 0.5, test: 0.5 },
    ]) {
      let thrown: unknown;
      try {
        stratifiedSplit(labels, 2, bad, 1);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(BadRequest);
      expect((thrown as BadRequest).field).toBe('split');
    }
  });

  it('accepts fractions that add up to 1 within 1e-6', () => {
    const labels = labelsWithSizes([10, 10]);
    expect(() => stratifiedSplit(labels, 2, { train: 0.7, val: 0.2, test: 0.1000005 }, 1)).not.toThrow();
  });

  it('rejects labels outside 0..numClasses-1', () => {
    expect(() => stratifiedSplit([0, 1, 2], 2, FRACTIONS, 1)).toThrow(BadRequest);
  });

  it('gives val and test one sample each from a class of three', () => {
    const labels = labelsWithSizes([3, 100]);
    const counts = countsByClass(labels, stratifiedSplit(labels, 2, { train: 0.8, val: 0.1, test: 0.1 }, 3), 2);
    expect(counts[0]).toEqual([1, 1, 1]);
  });

  it('fills train, then val, for classes smaller than the number of splits', () => {
    for (let seed = 0; seed < 20; seed++) {
      const labels = labelsWithSizes([1, 2, 100, 33]);
      const counts = countsByClass(labels, stratifiedSplit(labels, 4, FRACTIONS, seed), 4);
      expect(counts[0]).toEqual([1, 0, 0]);
      expect(counts[1]).toEqual([1, 1, 0]);
    }
  });

  it('never uses a split whose fraction is 0', () => {
    const labels = labelsWithSizes([5, 17, 3]);
    const codes = stratifiedSplit(labels, 3, { train: 0.8, val: 0, test: 0.2 }, 9);
    expect(codes.includes(1)).toBe(false);
  });

  it('stratifies heavily imbalanced labels class by class', () => {
    const sizes = [10_000, 7, 250, 1];
    const labels = labelsWithSizes(sizes);
    const codes = stratifiedSplit(labels, 4, FRACTIONS, 5);
    const counts = countsByClass(labels, codes, 4);
    expectWithinOneOfShare(counts.slice(0, 3), sizes, FRACTIONS);
    expect(counts[3]).toEqual([1, 0, 0]);
  });
});
