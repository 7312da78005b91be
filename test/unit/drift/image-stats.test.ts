import { describe, expect, it } from 'vitest';
import { createRng } from '../../../src/data/random.js';
import { IMAGE_STAT_DESCRIPTIONS, imageStatistics } from '../../../src/drift/image-stats.js';

const grey = (h: number, w: number) => ({ height: h, width: w, channels: 1 });
const rgb = (h: number, w: number) => ({ height: h, width: w, channels: 3 });

/** Uniform random bytes from createRng(seed), as the NumPy reference script regenerated them. */
function randomBytes(seed: number, n: number): Uint8Array {
  const rng = createRng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(rng() * 256));
}

describe('per-image statistics', () => {
  it('gives a flat grey image its brightness, zero contrast and zero sharpness', () => {
    const s = imageStatistics(new Uint8Array(25).fill(128), 1, grey(5, 5));
    expect(s.brightness[0]).toBeCloseTo(128 / 255, 15);
    expect(s.contrast[0]).toBe(0);
    expect(s.sharpness[0]).toBe(0);
  });

  it('gives a 4×4 black-and-white checkerboard brightness ½, contrast ½ and Laplacian variance 16', () => {
    // Each interior pixel differs from all four neighbours by 1, so the Laplacian is +4 on white, −4 on black.
    const board = Uint8Array.from({ length: 16 }, (_, i) => (((i >> 2) + (i & 3)) % 2 === 0 ? 255 : 0));
    const s = imageStatistics(board, 1, grey(4, 4));
    expect(s.brightness[0]).toBeCloseTo(0.5, 15);
    expect(s.contrast[0]).toBeCloseTo(0.5, 15);
    expect(s.sharpness[0]).toBeCloseTo(16, 13);
  });

  it('weighs red, green and blue by the Rec. 601 luma weights and reports the channel means', () => {
    const pixels = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255]); // three 1×1 images
    const s = imageStatistics(pixels, 3, rgb(1, 1));
    expect(Array.from(s.brightness)).toEqual([0.299, 0.587, 0.114].map((v) => expect.closeTo(v, 15)));
    expect(Array.from(s['mean-red'])).toEqual([1, 0, 0]);
    expect(Array.from(s['mean-green'])).toEqual([0, 1, 0]);
    expect(Array.from(s['mean-blue'])).toEqual([0, 0, 1]);
    expect(Array.from(s.sharpness)).toEqual([0, 0, 0]); // smaller than 3×3
  });

  it('has no colour means for grey images', () => {
    const names = Object.keys(imageStatistics(new Uint8Array(9), 1, grey(3, 3)));
    expect(names.sort()).toEqual(['brightness', 'contrast', 'sharpness']);
  });

  it('computes each image of a batch on its own pixels only', () => {
    const batch = new Uint8Array(2 * 9);
    batch.fill(255, 9);
    const s = imageStatistics(batch, 2, grey(3, 3));
    expect(Array.from(s.brightness)).toEqual([0, 1]);
  });

  it('matches NumPy / scipy.ndimage.laplace on random 5×6 RGB and 4×7 grey images', () => {
    // NumPy 1.24 / SciPy 1.10.1 on the same bytes: luma as above, contrast = luma.std(), sharpness =
    // ndimage.laplace(luma)[1:-1, 1:-1].var() (the same stencil with the opposite sign).
    const c = imageStatistics(randomBytes(51, 5 * 6 * 3), 1, rgb(5, 6));
    expect(c.brightness[0]).toBeCloseTo(0.4644069281045751, 14);
    expect(c.contrast[0]).toBeCloseTo(0.16314167435782023, 14);
    expect(c.sharpness[0]).toBeCloseTo(0.4666596745186678, 14);
    expect(c['mean-red'][0]).toBeCloseTo(0.49516339869281045, 14);
    expect(c['mean-green'][0]).toBeCloseTo(0.4461437908496732, 14);
    expect(c['mean-blue'][0]).toBeCloseTo(0.47777777777777775, 14);
    const g = imageStatistics(randomBytes(52, 4 * 7), 1, grey(4, 7));
    expect(g.brightness[0]).toBeCloseTo(0.5071428571428572, 14);
    expect(g.contrast[0]).toBeCloseTo(0.3186811910232189, 14);
    expect(g.sharpness[0]).toBeCloseTo(1.7364681276432141, 13);
  });

  it('describes every statistic it returns in a plain sentence', () => {
    for (const name of Object.keys(imageStatistics(new Uint8Array(27), 1, rgb(3, 3)))) {
      expect(IMAGE_STAT_DESCRIPTIONS[name]).toMatch(/^[A-Z].+\.$/);
    }
  });

  it('rejects channel counts other than 1 and 3 and byte lengths that are not whole images', () => {
    expect(() => imageStatistics(new Uint8Array(8), 1, { height: 2, width: 2, channels: 2 })).toThrow(RangeError);
    expect(() => imageStatistics(new Uint8Array(10), 1, grey(3, 3))).toThrow(RangeError);
  });
});
