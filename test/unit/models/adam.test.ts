import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend, withBackend } from '../../../src/models/backend.js';
import { FusedAdamOptimizer } from '../../../src/models/adam.js';
import { simdKernelsFor, type HeapBackend } from '../../../src/models/simd-kernels.js';

const seeded = (shape: number[], seed: number) => tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', seed).dataSync() as Float32Array);

/**
 * Five steps of `make()` on two variables (a 4k one and one of 7 values, which takes the scalar tail) from the same
 * start and gradients, with the learning rate changed after step 2 as the schedules do; the values and optimizer
 * weights after, and how many times the fused kernel ran.
 */
async function run(make: () => tf.Optimizer, prefix: string): Promise<{ values: Float32Array[]; weights: Array<{ name: string; data: Float32Array }>; fused: number }> {
  return withBackend('wasm', async () => {
    const simd = simdKernelsFor(tf.backend() as unknown as HeapBackend)!;
    const original = simd.adamUpdate;
    let fused = 0;
    (simd as { adamUpdate: typeof original }).adamUpdate = (...args) => {
      fused++;
      original(...args);
    };
    try {
      const a = tf.variable(tf.tensor(seeded([64, 4], 1), [64, 4]), true, `${prefix}a`);
      const b = tf.variable(tf.tensor(seeded([7], 2), [7]), true, `${prefix}b`);
      const opt = make();
      for (let s = 0; s < 5; s++) {
        if (s === 2) (opt as unknown as { learningRate: number }).learningRate = 3e-4;
        const ga = tf.tensor(seeded([64, 4], 10 + s), [64, 4]);
        const gb = tf.tensor(seeded([7], 20 + s), [7]);
        opt.applyGradients(s % 2 ? { [a.name]: ga, [b.name]: gb } : [{ name: a.name, tensor: ga }, { name: b.name, tensor: gb }]);
        tf.dispose([ga, gb]);
      }
      const weights = (await opt.getWeights()).map((w) => ({ name: w.name.replace(prefix, ''), data: w.tensor.dataSync() as Float32Array }));
      const values = [a.dataSync() as Float32Array, b.dataSync() as Float32Array];
      opt.dispose();
      tf.dispose([a, b]);
      return { values, weights, fused };
    } finally {
      (simd as { adamUpdate: typeof original }).adamUpdate = original;
    }
  });
}

describe('FusedAdamOptimizer on wasm', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  }, 60_000);

  it("gives the same bits as tfjs-core's Adam for values and moments, through one kernel call per variable and step", async () => {
    const reference = await run(() => tf.train.adam(1e-3), 'ref');
    const fused = await run(() => new FusedAdamOptimizer(1e-3), 'fused');
    expect(reference.fused).toBe(0);
    expect(fused.fused).toBe(10);
    expect(fused.values).toEqual(reference.values);
    expect(fused.weights.map((w) => w.name)).toEqual(reference.weights.map((w) => w.name));
    expect(fused.weights.map((w) => w.data)).toEqual(reference.weights.map((w) => w.data));
    // The step moved the values: the comparison is not between two untouched copies.
    expect(fused.values[0]).not.toEqual(seeded([64, 4], 1));
  });

  it("serialises as tfjs-core's Adam", () => {
    const opt = new FusedAdamOptimizer(1e-3);
    expect(opt.getClassName()).toBe('Adam');
    opt.dispose();
  });

  it('leaves other backends to the parent', async () => {
    await withBackend('cpu', async () => {
      const a = tf.variable(tf.tensor1d([1, 2, 3, 4, 5]), true, 'cpuA');
      const opt = new FusedAdamOptimizer(0.1);
      opt.applyGradients([{ name: 'cpuA', tensor: tf.tensor1d([1, -1, 1, -1, 0]) }]);
      const ref = tf.variable(tf.tensor1d([1, 2, 3, 4, 5]), true, 'cpuRef');
      const refOpt = tf.train.adam(0.1);
      refOpt.applyGradients([{ name: 'cpuRef', tensor: tf.tensor1d([1, -1, 1, -1, 0]) }]);
      expect(Array.from(a.dataSync())).toEqual(Array.from(ref.dataSync()));
      tf.dispose([a, ref]);
      opt.dispose();
      refOpt.dispose();
    });
  });

  it('keeps the tensor count flat across steps', async () => {
    await withBackend('wasm', async () => {
      const a = tf.variable(tf.zeros([33]), true, 'countA');
      const opt = new FusedAdamOptimizer(1e-2);
      const g = tf.ones([33]);
      opt.applyGradients([{ name: 'countA', tensor: g }]);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 10; i++) opt.applyGradients([{ name: 'countA', tensor: g }]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([a, g]);
      opt.dispose();
    });
  });
});
