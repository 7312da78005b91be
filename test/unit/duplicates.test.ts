import { describe, expect, it } from 'vitest';
import {
  findDuplicateGroups,
  findDuplicates,
  resolveLeakage,
  type DuplicateGroup,
} from '../../src/data/duplicates.js';
import { perceptualHash } from '../../src/data/phash.js';
import { createRng } from '../../src/data/random.js';

const SIDE = 28;
const BYTES = SIDE * SIDE;
const OPTS = { maxHamming: 3, maxMeanAbsDiff: 8 };

function noiseImage(rng: () => number): Uint8Array {
  return Uint8Array.from({ length: BYTES }, () => Math.floor(rng() * 256));
}

/** A smooth grey image of a few Gaussian blobs, so its perceptual hash is stable under small changes. */
function blobImage(seed: number): Uint8Array {
  const rng = createRng(seed);
  const blobs = Array.from({ length: 8 }, () => ({
    x: rng() * SIDE,
    y: rng() * SIDE,
    r: (0.06 + 0.15 * rng()) * SIDE,
    a: 80 + 170 * rng(),
  }));
  const img = new Uint8Array(BYTES);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      let v = 0;
      for (const b of blobs) v += b.a * Math.exp(-((x - b.x) ** 2 + (y - b.y) ** 2) / (2 * b.r * b.r));
      img[y * SIDE + x] = Math.min(255, Math.round(v));
    }
  }
  return img;
}

function jitter(img: Uint8Array, rng: () => number, amount: number): Uint8Array {
  return img.map((v) => Math.max(0, Math.min(255, v + Math.round((rng() * 2 - 1) * amount))));
}

function concat(images: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(images.length * BYTES);
  images.forEach((img, i) => out.set(img, i * BYTES));
  return out;
}

function withHashes(images: Uint8Array[]) {
  return {
    pixels: concat(images),
    count: images.length,
    sampleBytes: BYTES,
    hashes: images.map((img) => perceptualHash(img, SIDE, SIDE, 1)),
  };
}

/** Flips the given bit positions (0–63) of a hash. */
function flip(h: [number, number], bits: number[]): [number, number] {
  const out: [number, number] = [h[0], h[1]];
  for (const b of bits) out[b >> 5] = (out[b >> 5] ^ (1 << (b & 31))) >>> 0;
  return out;
}

describe('duplicate groups', () => {
  it('groups byte-identical samples as exact', () => {
    const rng = createRng(1);
    const images = Array.from({ length: 10 }, () => noiseImage(rng));
    images[5] = images[0].slice();
    images[9] = images[0].slice();
    images[7] = images[3].slice();
    expect(findDuplicateGroups(withHashes(images), OPTS)).toEqual([
      { kind: 'exact', members: [0, 5, 9] },
      { kind: 'exact', members: [3, 7] },
    ]);
  });

  it('finds a near pair that agrees on only one hash band and confirms it by pixels', () => {
    const rng = createRng(2);
    const a = noiseImage(rng);
    const h: [number, number] = [0x9e3779b9, 0x7f4a7c15];
    // maxHamming 3 → bands of bits 0–15, 16–31, 32–47, 48–63: flip one bit in each of the first three bands.
    const input = {
      pixels: concat([a, jitter(a, rng, 3), noiseImage(rng), jitter(a, rng, 3)]),
      count: 4,
      sampleBytes: BYTES,
      hashes: [h, flip(h, [0, 16, 32]), flip(h, [7, 20, 40]), flip(h, [1, 17, 33, 49])],
    };
    // Sample 3 is distance 4 from sample 0 (over maxHamming) and at least 5 from 1 and 2; sample 2 is
    // within distance 3 of sample 0 but its pixels differ.
    expect(findDuplicateGroups(input, OPTS)).toEqual([{ kind: 'near', members: [0, 1] }]);
  });

  it('does not group look-alikes whose pixels differ, even with identical hashes', () => {
    const rng = createRng(3);
    const h: [number, number] = [123, 456];
    const input = {
      pixels: concat([noiseImage(rng), noiseImage(rng), noiseImage(rng)]),
      count: 3,
      sampleBytes: BYTES,
      hashes: [h, h, h],
    };
    expect(findDuplicateGroups(input, OPTS)).toEqual([]);
  });

  it('finds perceptually near copies of real-looking images and merges them with exact copies', () => {
    const rng = createRng(4);
    const images = Array.from({ length: 30 }, (_, i) => blobImage(100 + i));
    images[12] = jitter(images[3], rng, 4);
    images[20] = images[3].slice();
    images[25] = images[8].slice();
    const groups = findDuplicateGroups(withHashes(images), { maxHamming: 8, maxMeanAbsDiff: 6 });
    expect(groups).toEqual([
      { kind: 'near', members: [3, 12, 20] },
      { kind: 'exact', members: [8, 25] },
    ]);
  });

  it('skips oversized buckets for near duplicates, reports them, and still finds exact copies there', () => {
    const rng = createRng(5);
    const images = Array.from({ length: 40 }, () => noiseImage(rng));
    images[39] = images[0].slice();
    const h: [number, number] = [1, 2];
    const input = { pixels: concat(images), count: 40, sampleBytes: BYTES, hashes: images.map(() => h) };
    const report = findDuplicates(input, { ...OPTS, maxBucketSize: 16 });
    expect(report.groups).toEqual([{ kind: 'exact', members: [0, 39] }]);
    expect(report.skippedBuckets).toBe(4); // one full bucket per band
    expect(report.samplesInSkippedBuckets).toBe(39); // sample 39 is represented by sample 0
  });

  it('handles 20,000 random 28×28 samples without comparing all pairs', () => {
    const rng = createRng(6);
    const n = 20_000;
    const pixels = new Uint8Array(n * BYTES);
    for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(rng() * 256);
    pixels.copyWithin(17 * BYTES, 4000 * BYTES, 4001 * BYTES); // exact copy: 17 = 4000
    const noisy = jitter(pixels.subarray(9000 * BYTES, 9001 * BYTES), rng, 2);
    pixels.set(noisy, 15000 * BYTES); // near copy: 15000 ≈ 9000
    const hashes = Array.from({ length: n }, (_, i) =>
      perceptualHash(pixels.subarray(i * BYTES, (i + 1) * BYTES), SIDE, SIDE, 1),
    );
    const started = performance.now();
    const input = { pixels, count: n, sampleBytes: BYTES, hashes };
    const report = findDuplicates(input, { maxHamming: 6, maxMeanAbsDiff: 4 });
    console.info(`findDuplicates on ${n} samples: ${(performance.now() - started).toFixed(0)} ms`);
    expect(report.groups).toEqual([
      { kind: 'exact', members: [17, 4000] },
      { kind: 'near', members: [9000, 15000] },
    ]);
    expect(report.skippedBuckets).toBe(0);
  });
});

describe('leakage resolution', () => {
  const near = (...members: number[]): DuplicateGroup => ({ kind: 'near', members });
  //              0  1  2  3  4  5  6  7  8  9 10
  const splits = Uint8Array.from([0, 1, 2, 1, 2, 0, 0, 2, 2, 0, 2]);
  const labels = [0, 0, 0, 1, 2, 3, 4, 5, 5, 6, 6];
  const groups = [near(0, 1, 2), near(3, 4), near(5, 6), near(7, 8), near(9, 10)];

  it('removes val and test members of groups that touch train', () => {
    const { removed } = resolveLeakage([near(0, 1, 2), near(9, 10)], splits, labels);
    expect(removed).toEqual([1, 2, 10]);
  });

  it('removes the test members of groups spanning only val and test', () => {
    expect(resolveLeakage([near(3, 4)], splits, labels).removed).toEqual([4]);
  });

  it('reports duplicates within one split without removing them', () => {
    const result = resolveLeakage([near(5, 6), near(7, 8)], splits, labels);
    expect(result.crossSplit).toEqual([]);
    expect(result.removed).toEqual([]);
  });

  it('lists cross-split groups and sorts the removals', () => {
    const result = resolveLeakage([...groups].reverse(), splits, labels);
    expect(result.crossSplit.map((g) => g.members[0]).sort((a, b) => a - b)).toEqual([0, 3, 9]);
    expect(result.removed).toEqual([1, 2, 4, 10]);
  });

  it('flags groups whose members carry different labels, in any split', () => {
    const result = resolveLeakage(groups, splits, labels);
    expect(result.labelConflicts).toEqual([near(3, 4), near(5, 6)]);
  });
});
