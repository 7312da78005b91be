import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../../src/data/random.js';
import { augmentBatch, augmentationSchema, type Augmentation } from '../../../src/models/augment.js';

// Distinct per-channel statistics, so a conversion that ignores the channel shows up.
const NORM = { mean: [0.5, 0.4, 0.3], std: [0.25, 0.2, 0.1] };
const C = NORM.mean.length;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const aug = (fields: Partial<Augmentation>): Augmentation => augmentationSchema.parse(fields);

/** A generator pinned at `u`: every uniform draw sits at the same point of its range (0 → low end). */
const pinned = (u: number) => () => u;
const LARGEST_DRAW = (2 ** 32 - 1) / 2 ** 32; // the largest value mulberry32 returns

/** Normalised [n, h, w, C] images whose pixel (0..1 scale) values come from `pixel`. */
function images(n: number, h: number, w: number, pixel: (i: number, y: number, x: number, c: number) => number): tf.Tensor4D {
  const data = new Float32Array(n * h * w * C);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let c = 0; c < C; c++) data[((i * h + y) * w + x) * C + c] = (pixel(i, y, x, c) - NORM.mean[c]) / NORM.std[c];
  return tf.tensor4d(data, [n, h, w, C]);
}

/** Random pixels in [lo, hi] from a seeded generator. */
function randomImages(n: number, h: number, w: number, seed = 7, lo = 0, hi = 1): tf.Tensor4D {
  const rng = createRng(seed);
  return images(n, h, w, () => lo + (hi - lo) * rng());
}

/** One bright pixel at (row, col) on black. */
const dot = (size: number, row: number, col: number) => images(1, size, size, (_, y, x) => (y === row && x === col ? 1 : 0));

/** Back to the 0..1 pixel scale, as a nested [n][y][x][c] array. */
function pixels(t: tf.Tensor4D): number[][][][] {
  const denorm = tf.tidy(() => tf.add(tf.mul(t, tf.tensor1d(NORM.std)), tf.tensor1d(NORM.mean)));
  const out = denorm.arraySync() as number[][][][];
  denorm.dispose();
  return out;
}

/** The (row, col) of the largest value of channel 0 of image 0. */
function brightest(t: tf.Tensor4D): [number, number] {
  const p = pixels(t)[0];
  let best: [number, number] = [0, 0];
  p.forEach((row, y) => row.forEach((v, x) => v[0] > p[best[0]][best[1]][0] && (best = [y, x])));
  return best;
}

/** Runs `f` on a fresh batch and disposes both tensors, returning what `f` extracted. */
function withResult<T>(input: tf.Tensor4D, a: Augmentation, rng: () => number, f: (out: tf.Tensor4D) => T): T {
  const out = augmentBatch(input, a, rng, NORM);
  try {
    return f(out);
  } finally {
    out.dispose();
    input.dispose();
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) => Math.sqrt(mean(xs.map((v) => (v - mean(xs)) ** 2)));
/** Channel c of image i as a flat list. */
const channel = (p: number[][][][], i: number, c: number) => p[i].flat().map((v) => v[c]);

const EVERYTHING: Partial<Augmentation> = {
  horizontalFlip: true,
  rotation: 30,
  shift: 0.2,
  zoom: 0.2,
  brightness: 0.3,
  contrast: 0.4,
  gaussianNoise: 0.1,
  cutout: 0.3,
  probability: 1,
};

describe('augmentation options', () => {
  it('turn every transform off by default', () => {
    expect(augmentationSchema.parse({})).toEqual({
      horizontalFlip: false,
      rotation: 0,
      shift: 0,
      zoom: 0,
      brightness: 0,
      contrast: 0,
      gaussianNoise: 0,
      cutout: 0,
      probability: 0.5,
      testTimeFlip: false,
      materialize: false,
    });
  });

  it('reject unknown fields and magnitudes outside their range', () => {
    expect(augmentationSchema.safeParse({ flip: true }).success).toBe(false);
    expect(augmentationSchema.safeParse({ rotation: 181 }).success).toBe(false);
    expect(augmentationSchema.safeParse({ shift: 0.6 }).success).toBe(false);
    expect(augmentationSchema.safeParse({ probability: 1.5 }).success).toBe(false);
  });
});

describe('augmentBatch', () => {
  it('keeps the shape and dtype of the batch', () => {
    const [shape, dtype] = withResult(randomImages(3, 10, 12), aug(EVERYTHING), createRng(1), (out) => [out.shape, out.dtype]);
    expect(shape).toEqual([3, 10, 12, C]);
    expect(dtype).toBe('float32');
  });

  it('returns an equal, separately owned tensor when every transform is off', () => {
    const input = randomImages(2, 6, 6);
    const before = input.arraySync();
    const out = augmentBatch(input, aug({}), createRng(1), NORM);
    input.dispose();
    expect(out.arraySync()).toEqual(before);
    out.dispose();
  });

  it('leaves every image unchanged at probability 0', () => {
    const input = randomImages(4, 6, 6);
    const before = input.arraySync();
    expect(withResult(input, aug({ ...EVERYTHING, probability: 0 }), createRng(1), (out) => out.arraySync())).toEqual(before);
  });

  it('gives the same batch for the same seed and a different one for another seed', () => {
    const run = (seed: number) => withResult(randomImages(4, 8, 8), aug(EVERYTHING), createRng(seed), (out) => out.arraySync());
    expect(run(11)).toEqual(run(11));
    expect(run(11)).not.toEqual(run(12));
  });

  it('mirrors columns exactly when the flip fires', () => {
    const input = randomImages(3, 5, 7);
    const expected = (input.arraySync() as number[][][][]).map((img) => img.map((row) => [...row].reverse()));
    const out = withResult(input, aug({ horizontalFlip: true, probability: 1 }), createRng(3), (o) => o.arraySync());
    expect(out).toEqual(expected);
  });

  it('flips about half the images at the default probability', () => {
    const input = images(200, 1, 2, (_, __, x) => x); // left pixel 0, right pixel 1
    const flipped = withResult(input, aug({ horizontalFlip: true }), createRng(5), (out) =>
      pixels(out).filter((img) => img[0][0][0] > img[0][1][0]).length,
    );
    expect(flipped).toBeGreaterThan(70);
    expect(flipped).toBeLessThan(130);
  });

  it('reproduces the image when the drawn rotation, shift and zoom are all zero', () => {
    // A generator pinned at 0.5 draws the middle of every symmetric range: angle 0, shift 0, scale 1.
    const input = randomImages(2, 9, 9);
    const before = input.arraySync();
    const out = withResult(input, aug({ rotation: 45, shift: 0.3, zoom: 0.3, probability: 1 }), pinned(0.5), (o) => o.arraySync());
    expect(out).toEqual(before);
  });

  it('moves a bright pixel by a quarter of the size for a shift of 0.25 and fills the vacated border black', () => {
    // Pinned at 0 the shift is −0.25 · 16 = −4 px on both axes; at the top of the range it is +4 px.
    const a = aug({ shift: 0.25, probability: 1 });
    expect(withResult(dot(16, 8, 8), a, pinned(0), brightest)).toEqual([4, 4]);
    expect(withResult(dot(16, 8, 8), a, pinned(LARGEST_DRAW), brightest)).toEqual([12, 12]);

    const border = withResult(randomImages(1, 16, 16, 3, 0.2, 1), a, pinned(0), (out) => pixels(out)[0]);
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 16; x++) {
        const vacated = y >= 12 || x >= 12;
        for (let c = 0; c < C; c++) {
          if (vacated) expect(border[y][x][c]).toBeCloseTo(0, 5);
          else expect(border[y][x][c]).toBeGreaterThan(0.19);
        }
      }
    }
  });

  it('rotates counter-clockwise as displayed: the top of the image goes to the left', () => {
    // 17 × 17 has its centre on pixel (8, 8); 90° takes (2, 8), six rows above it, to (8, 2).
    const angle = withResult(dot(17, 2, 8), aug({ rotation: 90, probability: 1 }), pinned(LARGEST_DRAW), brightest);
    expect(angle).toEqual([8, 2]);
  });

  it('zooms about the centre: the smallest scale of zoom 0.5 halves distances from it', () => {
    expect(withResult(dot(17, 8, 16), aug({ zoom: 0.5, probability: 1 }), pinned(0), brightest)).toEqual([8, 12]);
  });

  it('shifts the de-normalised mean by a brightness delta within ±brightness, the same on every channel', () => {
    const grey = () => images(6, 4, 4, () => 0.5);
    const deltas = withResult(grey(), aug({ brightness: 0.2, probability: 1 }), createRng(9), (out) =>
      pixels(out).map((img) => {
        const delta = img[0][0][0] - 0.5;
        img.flat(2).forEach((v) => expect(v - 0.5).toBeCloseTo(delta, 5));
        return delta;
      }),
    );
    deltas.forEach((d) => expect(Math.abs(d)).toBeLessThanOrEqual(0.2 + 1e-6));
    expect(new Set(deltas.map((d) => d.toFixed(4))).size).toBeGreaterThan(1);
    // Pinned at 0 the delta is the low end of the range.
    const low = withResult(grey(), aug({ brightness: 0.2, probability: 1 }), pinned(0), (out) => mean(channel(pixels(out), 0, 2)));
    expect(low).toBeCloseTo(0.3, 5);
  });

  it('keeps each image’s per-channel mean under contrast and scales its spread by a factor in [1 − c, 1 + c]', () => {
    const input = randomImages(5, 8, 8, 4, 0.3, 0.7);
    const before = pixels(input);
    withResult(input, aug({ contrast: 0.5, probability: 1 }), createRng(2), (out) => {
      const after = pixels(out);
      for (let i = 0; i < 5; i++) {
        const factors = [0, 1, 2].map((c) => {
          expect(mean(channel(after, i, c))).toBeCloseTo(mean(channel(before, i, c)), 5);
          return std(channel(after, i, c)) / std(channel(before, i, c));
        });
        factors.forEach((f) => expect(f).toBeCloseTo(factors[0], 4));
        expect(factors[0]).toBeGreaterThanOrEqual(0.5 - 1e-6);
        expect(factors[0]).toBeLessThanOrEqual(1.5 + 1e-6);
      }
    });
  });

  it('adds noise with the requested standard deviation on the pixel scale in every channel', () => {
    withResult(images(4, 32, 32, () => 0.5), aug({ gaussianNoise: 0.05, probability: 1 }), createRng(8), (out) => {
      const p = pixels(out);
      for (let c = 0; c < C; c++) {
        const values = [0, 1, 2, 3].flatMap((i) => channel(p, i, c));
        expect(Math.abs(std(values) - 0.05)).toBeLessThan(0.005);
        expect(Math.abs(mean(values) - 0.5)).toBeLessThan(0.005);
      }
    });
  });

  it('sets a cutout square of side cutout × size to 0 (the dataset mean) and leaves the rest alone', () => {
    // Pinned at 0.5 the square of side round(0.25 · 16) = 4 is centred on (8, 8): rows and columns 6..9.
    const input = randomImages(1, 16, 16, 6, 0.2, 1);
    const before = input.arraySync() as number[][][][];
    const out = withResult(input, aug({ cutout: 0.25, probability: 1 }), pinned(0.5), (o) => o.arraySync() as number[][][][]);
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 16; x++) {
        const inside = y >= 6 && y <= 9 && x >= 6 && x <= 9;
        // Compared with === so that −0 (a negative value times the mask's 0) counts as 0.
        if (inside) expect(out[0][y][x].every((v) => v === 0)).toBe(true);
        else expect(out[0][y][x]).toEqual(before[0][y][x]);
      }
    }
  });

  it('cuts at most a side × side rectangle from each image, clipped where it hangs over the border', () => {
    const input = randomImages(20, 16, 16, 6, 0.2, 1);
    withResult(input, aug({ cutout: 0.25, probability: 1 }), createRng(4), (out) => {
      const sizes = (out.arraySync() as number[][][][]).map((img) => {
        const rows = new Set<number>();
        const cols = new Set<number>();
        let zeros = 0;
        img.forEach((row, y) => row.forEach((v, x) => v[0] === 0 && (rows.add(y), cols.add(x), zeros++)));
        expect(zeros).toBe(rows.size * cols.size);
        expect(Math.max(...rows) - Math.min(...rows) + 1).toBe(rows.size);
        expect(rows.size).toBeLessThanOrEqual(4);
        expect(cols.size).toBeLessThanOrEqual(4);
        return zeros;
      });
      expect(sizes).toContain(16);
    });
  });

  it('keeps every value finite with every transform at its largest', () => {
    const most = aug({
      ...EVERYTHING,
      rotation: 180,
      shift: 0.5,
      zoom: 0.5,
      brightness: 1,
      contrast: 1,
      gaussianNoise: 1,
      cutout: 0.5,
    });
    for (const seed of [1, 2, 3]) {
      const values = withResult(randomImages(4, 8, 8, seed), most, createRng(seed), (out) => Array.from(out.dataSync()));
      expect(values.every(Number.isFinite)).toBe(true);
    }
  });

  it('gives the same batch on wasm, where tf.image.transform warps on the device, as on cpu, where JS does', async () => {
    // Everything random is drawn in JS, so only float rounding in the backends' kernels may differ.
    const a = aug({ ...EVERYTHING, probability: 0.7 });
    const run = () => withResult(randomImages(6, 12, 10), a, createRng(21), (out) => Array.from(out.dataSync()));
    const onCpu = run();
    await tf.setBackend('wasm');
    try {
      const onWasm = run();
      expect(onWasm.length).toBe(onCpu.length);
      const worst = onCpu.reduce((m, v, i) => Math.max(m, Math.abs(v - onWasm[i])), 0);
      expect(worst).toBeLessThan(1e-4);
    } finally {
      await tf.setBackend('cpu');
    }
  });

  it('rejects a normalisation with the wrong number of channels', () => {
    const input = randomImages(1, 4, 4);
    expect(() => augmentBatch(input, aug(EVERYTHING), createRng(1), { mean: [0.5], std: [0.25] })).toThrow(/channels/);
    input.dispose();
  });

  it('does not leak tensors across 100 batches', () => {
    const input = randomImages(4, 8, 8);
    const a = aug(EVERYTHING);
    const rng = createRng(1);
    augmentBatch(input, a, rng, NORM).dispose();
    const before = tf.memory().numTensors;
    for (let k = 0; k < 100; k++) augmentBatch(input, a, rng, NORM).dispose();
    expect(tf.memory().numTensors).toBe(before);
    input.dispose();
  });
});
