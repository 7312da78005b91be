import { describe, expect, it } from 'vitest';
import { pairedHistogram } from '../../../src/drift/histogram.js';
import { normalSample } from './samples.js';

const sum = (xs: number[]) => xs.reduce((s, v) => s + v, 0);

describe('paired histogram', () => {
  it('bins both samples over common edges, closing the last bin at the maximum', () => {
    const h = pairedHistogram('brightness', [0, 1, 2, 3], [2, 3, 4], 4);
    expect(h.name).toBe('brightness');
    expect(h.edges).toEqual([0, 1, 2, 3, 4]);
    expect(h.reference).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(h.current).toEqual([0, 0, 1 / 3, 2 / 3]);
  });

  it('gives a single repeated value a width-1 range centred on it', () => {
    const h = pairedHistogram('contrast', [5, 5], [5], 2);
    expect(h.edges).toEqual([4.5, 5, 5.5]);
    expect(h.reference).toEqual([0, 1]);
    expect(h.current).toEqual([0, 1]);
  });

  it('matches numpy.histogram over the pooled range, as fractions that sum to 1', () => {
    // NumPy 1.24: numpy.histogram(x, bins=8, range=(min of both, max of both)) on the same values, divided by len(x).
    const h = pairedHistogram('sharpness', normalSample(31, 50), normalSample(32, 70, 0.5), 8);
    const edges = [
      -2.2193851743793025, -1.6546693857445898, -1.089953597109877, -0.5252378084751643, 0.0394779801595484,
      0.6041937687942611, 1.1689095574289738, 1.7336253460636866, 2.2983411346983993,
    ];
    h.edges.forEach((e, k) => expect(e).toBeCloseTo(edges[k], 14));
    expect(h.reference).toEqual([2, 6, 8, 8, 14, 6, 5, 1].map((c) => c / 50));
    expect(h.current).toEqual([0, 2, 8, 13, 18, 16, 8, 5].map((c) => c / 70));
    expect(sum(h.reference)).toBeCloseTo(1, 14);
    expect(sum(h.current)).toBeCloseTo(1, 14);
  });

  it('uses 20 bins by default and leaves an empty side at all zeros', () => {
    const h = pairedHistogram('brightness', [0.1, 0.9], []);
    expect(h.edges).toHaveLength(21);
    expect(h.current).toEqual(new Array(20).fill(0));
  });

  it('rejects two empty samples, non-finite values and a bin count below 1 with a RangeError', () => {
    expect(() => pairedHistogram('x', [], [])).toThrow(RangeError);
    expect(() => pairedHistogram('x', [1, Number.NaN], [1])).toThrow(RangeError);
    expect(() => pairedHistogram('x', [1, Infinity], [1])).toThrow(RangeError);
    expect(() => pairedHistogram('x', [1], [2], 0)).toThrow(RangeError);
  });
});
