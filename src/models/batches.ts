/**
 * Turning stored uint8 samples into normalised float batches: x = (pixel/255 − mean_c) / std_c with the training
 * split's statistics (the same function serves prediction, so preprocessing is identical), labels one-hot.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface SplitData {
  count: number;
  /** count × H × W × C uint8, HWC, sample after sample. */
  pixels: Uint8Array;
  labels: Uint16Array;
}

export interface Normalisation {
  mean: number[];
  std: number[];
}

export interface SampleShape {
  height: number;
  width: number;
  channels: number;
}

/** A 256 × C lookup table from byte to normalised value, so a batch costs one table read per byte. */
export function normalisationTable(norm: Normalisation): Float32Array {
  const c = norm.mean.length;
  const table = new Float32Array(256 * c);
  for (let v = 0; v < 256; v++) {
    for (let k = 0; k < c; k++) table[v * c + k] = (v / 255 - norm.mean[k]) / Math.max(norm.std[k], 1e-6);
  }
  return table;
}

/** Normalises one HWC uint8 sample into `out` at `offset` (the one place bytes become model inputs). */
export function normaliseInto(sample: Uint8Array, channels: number, table: Float32Array, out: Float32Array, offset = 0): void {
  for (let b = 0; b < sample.length; b++) out[offset + b] = table[sample[b] * channels + (b % channels)];
}

/** Normalised images [n, H, W, C] for the given sample indices. */
export function imageBatch(split: SplitData, indices: ArrayLike<number>, shape: SampleShape, table: Float32Array): tf.Tensor4D {
  const { height, width, channels } = shape;
  const sampleBytes = height * width * channels;
  const out = new Float32Array(indices.length * sampleBytes);
  for (let j = 0; j < indices.length; j++) {
    const src = indices[j] * sampleBytes;
    normaliseInto(split.pixels.subarray(src, src + sampleBytes), channels, table, out, j * sampleBytes);
  }
  return tf.tensor4d(out, [indices.length, height, width, channels]);
}

/** One-hot labels [n, K] for the given sample indices. */
export function labelBatch(split: SplitData, indices: ArrayLike<number>, numClasses: number): tf.Tensor2D {
  const out = new Float32Array(indices.length * numClasses);
  for (let j = 0; j < indices.length; j++) out[j * numClasses + split.labels[indices[j]]] = 1;
  return tf.tensor2d(out, [indices.length, numClasses]);
}
