import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers registers tfjs-core's gradient functions in Node (the core bundle alone has none), as in the service.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from './close.js';
import { selectBackend, withBackend } from '../../../src/models/backend.js';
import { simdKernelsFor, type HeapBackend, type SimdKernels } from '../../../src/models/simd-kernels.js';

const seeded = (shape: number[], seed: number) => tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', seed).dataSync() as Float32Array);

/** `fn` on cpu and on wasm (outputs as arrays), and how many times wasm ran each heap product. */
async function run(fn: () => tf.Tensor | tf.Tensor[]): Promise<{ cpu: Float32Array[]; wasm: Float32Array[]; nn: number; nt: number }> {
  const collect = () => tf.tidy(() => [fn()].flat().map((t) => t.dataSync() as Float32Array));
  const cpu = await withBackend('cpu', collect);
  return withBackend('wasm', () => {
    const simd = simdKernelsFor(tf.backend() as unknown as HeapBackend)! as { gemmNN: SimdKernels['gemmNN']; gemmNT: SimdKernels['gemmNT'] };
    const [nn, nt] = [simd.gemmNN, simd.gemmNT];
    const counts = { nn: 0, nt: 0 };
    simd.gemmNN = (...args) => (counts.nn++, nn(...args));
    simd.gemmNT = (...args) => (counts.nt++, nt(...args));
    try {
      return { cpu, wasm: collect(), ...counts };
    } finally {
      simd.gemmNN = nn;
      simd.gemmNT = nt;
    }
  });
}

describe('dense products on the SIMD heap kernels (wasm BatchMatMul)', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  }, 60_000);

  // m not a multiple of 4 (a part-filled row block) nor of 2 (an odd last row for A·Bᵀ); k not a multiple of 4 for
  // A·B and Aᵀ·B, whose k is free.
  it.each([
    { name: 'A·B', sa: [7, 13], sb: [13, 16], ta: false, tb: false, path: 'nn' },
    { name: 'Aᵀ·B', sa: [13, 7], sb: [13, 24], ta: true, tb: false, path: 'nn' },
    { name: 'A·Bᵀ', sa: [7, 20], sb: [12, 20], ta: false, tb: true, path: 'nt' },
    { name: 'A·B, 3-D with batch 1', sa: [1, 5, 9], sb: [1, 9, 8], ta: false, tb: false, path: 'nn' },
  ])('$name equals cpu', async ({ sa, sb, ta, tb, path }) => {
    const [a, b] = [seeded(sa, 1), seeded(sb, 2)];
    const r = await run(() => tf.matMul(tf.tensor(a, sa), tf.tensor(b, sb), ta, tb));
    expect(path === 'nn' ? r.nn : r.nt).toBe(1);
    expectClose(r.wasm[0], r.cpu[0]);
  });

  it("gives a dense layer's forward product and gradients (x·W, dy·Wᵀ, xᵀ·dy) of the cpu backend, all three on the heap kernels", async () => {
    const [x, w, dy] = [seeded([9, 200], 3), seeded([200, 16], 4), seeded([9, 16], 5)];
    const r = await run(() => {
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
      const [gx, gw] = tf.grads(f)([tf.tensor2d(x, [9, 200]), tf.tensor2d(w, [200, 16])], tf.tensor2d(dy, [9, 16]));
      return [f(tf.tensor2d(x, [9, 200]), tf.tensor2d(w, [200, 16])), gx, gw];
    });
    // A·B: the forward inside tf.grads, the returned forward, and xᵀ·dy; A·Bᵀ: dy·Wᵀ.
    expect([r.nn, r.nt]).toEqual([3, 1]);
    r.wasm.forEach((out, i) => expectClose(out, r.cpu[i]));
  });

  it('leaves batches, both operands transposed, and widths the kernels do not take to the other paths', async () => {
    for (const [sa, sb, ta, tb] of [
      [[3, 5, 9], [3, 9, 8], false, false],
      [[9, 5], [8, 9], true, true],
      [[5, 9], [9, 10], false, false],
      [[5, 10], [8, 10], false, true],
    ] as Array<[number[], number[], boolean, boolean]>) {
      const [a, b] = [seeded(sa, 6), seeded(sb, 7)];
      const r = await run(() => tf.matMul(tf.tensor(a, sa), tf.tensor(b, sb), ta, tb));
      expect(r.nn + r.nt).toBe(0);
      expectClose(r.wasm[0], r.cpu[0]);
    }
  });

  it('frees its packed copy', async () => {
    await withBackend('wasm', () => {
      const [a, b] = [tf.tensor2d(seeded([6, 10], 8), [6, 10]), tf.tensor2d(seeded([10, 8], 9), [10, 8])];
      tf.dispose(tf.matMul(a, b));
      const backend = tf.backend() as unknown as { numDataIds(): number };
      const ids = backend.numDataIds();
      for (let i = 0; i < 5; i++) tf.dispose(tf.matMul(a, b));
      expect(backend.numDataIds()).toBe(ids);
      tf.dispose([a, b]);
    });
  });
});
