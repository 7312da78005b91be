import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers registers tfjs-core's own gradients in Node, FusedBatchNorm's among them (the reference here).
import '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend, withBackend } from '../../../src/models/backend.js';
import { batchNormGradConfig, registerBatchNormGradient } from '../../../src/models/batchnorm-grad.js';

const original = tf.getGradient('FusedBatchNorm')!;

function seeded(shape: number[], seed: number, offset = 0): Float32Array {
  return tf.tidy(() => tf.add(tf.randomNormal(shape, 0, 1, 'float32', seed), offset).dataSync() as Float32Array);
}

const shape = [3, 5, 4, 6];
const C = 6;
let data: Record<'x' | 'mean' | 'variance' | 'offset' | 'scale' | 'dy', Float32Array>;

/** Gradients of batchNorm with respect to x, mean, variance, offset and scale, and the kernels the step ran. */
async function grads(): Promise<{ values: Float32Array[]; kernels: string[] }> {
  let values: Float32Array[] = [];
  const profile = await tf.profile(() => {
    const out = tf.tidy(() => {
      const inputs = [tf.tensor4d(data.x, shape as [number, number, number, number]), tf.tensor1d(data.mean), tf.tensor1d(data.variance), tf.tensor1d(data.offset), tf.tensor1d(data.scale)];
      const f = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor) => tf.batchNorm(x, m, v, o, s, 1e-3);
      return tf.grads(f)(inputs, tf.tensor4d(data.dy, shape as [number, number, number, number]));
    });
    values = out.map((t) => t.dataSync() as Float32Array);
    tf.dispose(out);
  });
  return { values, kernels: profile.kernels.map((k) => k.name) };
}

function expectClose(actual: Float32Array, expected: Float32Array): void {
  const scale = Math.max(...Array.from(expected, Math.abs));
  expect(Math.max(...Array.from(actual, (v, i) => Math.abs(v - expected[i])))).toBeLessThanOrEqual(1e-5 * Math.max(1, scale));
}

describe('batch-norm gradient without tile', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
    data = {
      x: seeded(shape, 1),
      mean: seeded([C], 2),
      variance: Float32Array.from(seeded([C], 3), (v) => 0.2 + v * v),
      offset: seeded([C], 4),
      scale: seeded([C], 5, 1),
      dy: seeded(shape, 6),
    };
  });
  afterAll(() => registerBatchNormGradient());

  it.each(['cpu', 'wasm'] as const)("equals tfjs-core's gradient for x, mean, variance, offset and scale on %s, and runs no Tile", async (backend) => {
    await withBackend(backend, async () => {
      tf.registerGradient(original);
      const reference = await grads();
      registerBatchNormGradient();
      expect(tf.getGradient('FusedBatchNorm')).toBe(batchNormGradConfig);
      const mine = await grads();
      expect(mine.values).toHaveLength(5);
      mine.values.forEach((v, i) => expectClose(v, reference.values[i]));
      expect(reference.kernels).toContain('Tile');
      expect(mine.kernels).not.toContain('Tile');
    });
  });
});
