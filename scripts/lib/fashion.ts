/**
 * Fashion-MNIST subsets for tests (Debian's dataset-fashion-mnist package: /usr/share/datasets/fashion-mnist).
 * Nothing large is committed: subsets are cut from the installed IDX files and, where needed, written as PNGs.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { encodeIdx } from '../../src/data/idx.js';

export const FASHION_DIR = process.env.FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
/** Folder-safe names for archives. */
export const FASHION_FOLDERS = ['tshirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'boot'];

export interface Subset {
  count: number;
  pixels: Uint8Array; // count × 28 × 28
  labels: Uint8Array;
}

/** The first `count` images of the test (t10k) or training set, starting at `offset`. */
export function fashionSubset(count: number, opts: { offset?: number; set?: 'train' | 't10k' } = {}): Subset {
  const set = opts.set ?? 't10k';
  const offset = opts.offset ?? 0;
  const images = gunzipSync(readFileSync(`${FASHION_DIR}/${set}-images-idx3-ubyte.gz`));
  const labels = gunzipSync(readFileSync(`${FASHION_DIR}/${set}-labels-idx1-ubyte.gz`));
  return {
    count,
    pixels: new Uint8Array(images.subarray(16 + offset * 784, 16 + (offset + count) * 784)),
    labels: new Uint8Array(labels.subarray(8 + offset, 8 + offset + count)),
  };
}

/** IDX image and label files for a subset. */
export function subsetIdx(s: Subset) {
  return { images: encodeIdx([s.count, 28, 28], s.pixels), labels: encodeIdx([s.count], s.labels) };
}

/** PNG bytes of sample i. */
export function samplePng(s: Subset, i: number): Promise<Buffer> {
  return sharp(s.pixels.subarray(i * 784, (i + 1) * 784), { raw: { width: 28, height: 28, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
}
