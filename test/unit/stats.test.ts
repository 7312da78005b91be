import { describe, expect, it } from 'vitest';
import { channelStats, imbalanceRatio, summarize, meanAndSampleStd } from '../../src/data/stats.js';

describe('channel statistics', () => {
  // Three samples of two RGB pixels each; sample 1 holds values that would change every statistic.
  const pixels = Uint8Array.from([
    ...[0, 51, 255, 255, 51, 255], // sample 0
    ...[9, 9, 9, 200, 200, 200], // sample 1
    ...[0, 102, 255, 255, 102, 0], // sample 2
  ]);

  it('matches a hand-computed mean and population std on the [0, 1] scale', () => {
    const { mean, std } = channelStats(pixels, 6, 3, [0, 2]);
    // R: 0, 255, 0, 255 → mean 0.5, std 0.5.  G: 51, 51, 102, 102 → mean 0.3, std 0.1.
    // B: 255, 255, 255, 0 → mean 0.75, std √(3/16) = √3 / 4.
    expect(mean[0]).toBeCloseTo(0.5, 12);
    expect(mean[1]).toBeCloseTo(0.3, 12);
    expect(mean[2]).toBeCloseTo(0.75, 12);
    expect(std[0]).toBeCloseTo(0.5, 12);
    expect(std[1]).toBeCloseTo(0.1, 12);
    expect(std[2]).toBeCloseTo(Math.sqrt(3) / 4, 12);
  });

  it('uses only the given indices', () => {
    expect(channelStats(pixels, 6, 3, [1])).toEqual(channelStats(pixels, 6, 3, [1, 1]));
    expect(channelStats(pixels, 6, 3, [0, 2])).not.toEqual(channelStats(pixels, 6, 3, [0, 1, 2]));
  });

  it('stays exact on tens of thousands of Fashion-MNIST-sized samples', () => {
    const n = 20_000;
    const bytes = 784;
    const constant = new Uint8Array(n * bytes).fill(200);
    const all = Uint32Array.from({ length: n }, (_, i) => i);
    const flat = channelStats(constant, bytes, 1, all);
    expect(flat.mean[0]).toBeCloseTo(200 / 255, 12);
    expect(flat.std[0]).toBe(0);

    const halves = new Uint8Array(n * bytes);
    halves.fill(255, 0, (n * bytes) / 2);
    const split = channelStats(halves, bytes, 1, all);
    expect(split.mean[0]).toBeCloseTo(0.5, 12);
    expect(split.std[0]).toBeCloseTo(0.5, 12);
  });

  it('refuses an empty selection', () => {
    expect(() => channelStats(pixels, 6, 3, [])).toThrow(RangeError);
  });
});

describe('summary of a list', () => {
  it('reports min, max, mean, median and count', () => {
    expect(summarize([3, 1, 2, 10])).toEqual({ min: 1, max: 10, mean: 4, median: 2.5, count: 4 });
    expect(summarize(Float32Array.from([5, -1, 2]))).toEqual({ min: -1, max: 5, mean: 2, median: 2, count: 3 });
  });

  it('reports count 0 and NaN for an empty list', () => {
    const s = summarize([]);
    expect(s.count).toBe(0);
    expect(s.mean).toBeNaN();
    expect(s.median).toBeNaN();
  });
});

describe('class imbalance ratio', () => {
  it('divides the largest class count by the smallest', () => {
    expect(imbalanceRatio([10, 40, 20])).toBe(4);
    expect(imbalanceRatio([7, 7])).toBe(1);
  });

  it('leaves empty classes out for the caller to flag', () => {
    expect(imbalanceRatio([10, 5, 0])).toBe(2);
    expect(imbalanceRatio([0, 0])).toBeNaN();
  });
});

describe('mean and sample standard deviation', () => {
  it('divides the squared deviations by n − 1, and gives 0 for a single value', () => {
    // Deviations from 5 are −3, −1, 1, 3: squares sum to 20, over 3 → √(20/3).
    expect(meanAndSampleStd([2, 4, 6, 8])).toEqual({ mean: 5, std: Math.sqrt(20 / 3) });
    expect(meanAndSampleStd([0.8])).toEqual({ mean: 0.8, std: 0 });
  });
});
