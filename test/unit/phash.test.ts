import { describe, expect, it } from 'vitest';
import { hammingDistance, perceptualHash } from '../../src/data/phash.js';
import { createRng } from '../../src/data/random.js';

const W = 28;
const H = 28;

/** A smooth grey image: a few Gaussian blobs placed by `seed`, like a garment silhouette on black. */
function blobImage(seed: number, width = W, height = H): Uint8Array {
  const rng = createRng(seed);
  const blobs = Array.from({ length: 8 }, () => ({
    x: rng() * width,
    y: rng() * height,
    r: (0.06 + 0.15 * rng()) * width,
    a: 80 + 170 * rng(),
  }));
  const img = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = 0;
      for (const b of blobs) v += b.a * Math.exp(-((x - b.x) ** 2 + (y - b.y) ** 2) / (2 * b.r * b.r));
      img[y * width + x] = Math.min(255, Math.round(v));
    }
  }
  return img;
}

function adjust(img: Uint8Array, seed: number, brighten: number, noise: number): Uint8Array {
  const rng = createRng(seed);
  return img.map((v) => Math.max(0, Math.min(255, Math.round(v + brighten + (rng() * 2 - 1) * noise))));
}

describe('perceptual hash', () => {
  it('gives identical images the same hash', () => {
    const img = blobImage(1);
    expect(perceptualHash(img, W, H, 1)).toEqual(perceptualHash(img.slice(), W, H, 1));
  });

  it('returns two unsigned 32-bit halves', () => {
    for (const half of perceptualHash(blobImage(2), W, H, 1)) {
      expect(Number.isInteger(half)).toBe(true);
      expect(half).toBeGreaterThanOrEqual(0);
      expect(half).toBeLessThan(2 ** 32);
    }
  });

  it('keeps a brightened, noisy copy within a few bits', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const img = blobImage(seed);
      const copy = adjust(img, 100 + seed, 10, 6); // +10 grey levels, ±6 uniform noise
      expect(hammingDistance(perceptualHash(img, W, H, 1), perceptualHash(copy, W, H, 1))).toBeLessThanOrEqual(8);
    }
  });

  it('puts unrelated images far apart', () => {
    const distances: number[] = [];
    for (let seed = 1; seed <= 40; seed++) {
      const a = perceptualHash(blobImage(seed), W, H, 1);
      const b = perceptualHash(blobImage(seed + 1000), W, H, 1);
      distances.push(hammingDistance(a, b));
    }
    expect(Math.min(...distances)).toBeGreaterThan(16);
    expect(distances.reduce((s, d) => s + d, 0) / distances.length).toBeGreaterThan(20);
  });

  it('hashes an RGB image like its grey version when all channels are equal', () => {
    const grey = blobImage(3, 40, 30);
    const rgb = new Uint8Array(grey.length * 3);
    grey.forEach((v, i) => rgb.fill(v, 3 * i, 3 * i + 3));
    expect(perceptualHash(rgb, 40, 30, 3)).toEqual(perceptualHash(grey, 40, 30, 1));
  });

  it('gives a resized copy nearly the same hash', () => {
    const small = blobImage(4);
    const big = new Uint8Array(56 * 56);
    for (let y = 0; y < 56; y++) for (let x = 0; x < 56; x++) big[y * 56 + x] = small[(y >> 1) * W + (x >> 1)];
    expect(hammingDistance(perceptualHash(small, W, H, 1), perceptualHash(big, 56, 56, 1))).toBeLessThanOrEqual(2);
  });
});

describe('hamming distance', () => {
  it('counts differing bits across both halves', () => {
    expect(hammingDistance([0, 0], [0, 0])).toBe(0);
    expect(hammingDistance([0xffffffff, 0xffffffff], [0, 0])).toBe(64);
    expect(hammingDistance([0b1011, 0x80000000], [0b0001, 0])).toBe(3);
    expect(hammingDistance([0x12345678, 0x9abcdef0], [0x12345678, 0x9abcdef0])).toBe(0);
  });
});
